// Conformance checks: the official Node client (kaltura-client 21.20.0) against the emulator.
//
// Reads KALTURA_SERVICE_URL, KALTURA_PARTNER_ID and KALTURA_ADMIN_SECRET, expects the demo seed,
// prints `ok <name>` or `FAIL <name>: <detail>` per check, then `N passed, M failed`.
// Safe to run more than once against one emulator: it restores what it changes and uses unique emails.
// The Node client speaks JSON only (the Python script covers XML) and has no local KS generator.

import { randomBytes } from 'node:crypto';
import kaltura from 'kaltura-client';

const { services, objects, enums } = kaltura;

const SERVICE_URL = required('KALTURA_SERVICE_URL');
const PARENT_ID = Number(required('KALTURA_PARTNER_ID'));
const ADMIN_SECRET = required('KALTURA_ADMIN_SECRET');

// The demo seed (src/emulator/seed.rs, `demo()`).
const PARENT_NAME = 'Debbie Techpubs';
const PARENT_ADMIN = 'debbie@techpubs.example';
const PARENT_PASSWORD = 'Demo-Passw0rd!';
const SHANGHAI = 6475, DOWN_UNDER = 6474, ADTEST = 6472, TEMPLATE_STD = 6478, TEMPLATE_LEGACY = 6479;
const NORTHWIND = 7001, NORTHWIND_SALES = 7002;
const SEED_ID_IN = [PARENT_ID, SHANGHAI, DOWN_UNDER, ADTEST, TEMPLATE_STD, TEMPLATE_LEGACY, NORTHWIND, NORTHWIND_SALES].join(',');

const RUN = randomBytes(4).toString('hex'); // makes emails and names unique per run
const REPORT_FROM = 1704067200, REPORT_TO = 1706745599; // 2024-01-01 00:00 .. 2024-01-31 23:59:59 UTC
const G2 = ['bandwidth_consumption', 'average_storage', 'peak_storage', 'added_storage', 'deleted_storage',
  'combined_bandwidth_storage', 'transcoding_consumption'];
const M42 = ['total_plays', 'bandwidth_consumption', 'average_storage', 'transcoding_consumption', 'total_entries',
  'total_end_users', 'total_views', 'origin_bandwidth_consumption', 'added_storage', 'deleted_storage', 'peak_storage',
  'unique_known_users'];
const PARTNER_COLUMNS = ['status', 'partner_name', 'partner_id', 'created_at'];

// ---------------------------------------------------------------- helpers

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

function client(ks) {
  const config = new kaltura.Configuration();
  config.serviceUrl = SERVICE_URL;
  if (!process.env.CONFORMANCE_DEBUG) config.setLogger(null); // the default logger prints every request
  const c = new kaltura.Client(config);
  if (ks) c.setKs(ks);
  return c;
}

class CheckFailed extends Error {}

function expect(cond, detail) {
  if (!cond) throw new CheckFailed(detail);
}

function eq(got, want, what) {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  expect(g === w, `${what}: expected ${w}, got ${g}`);
}

function describe(x) {
  return JSON.stringify(x)?.slice(0, 400);
}

/** Runs a request expecting a rejection with a Kaltura API error; returns the error object. */
async function expectError(codes, request, ks, { contains, message } = {}) {
  const wanted = Array.isArray(codes) ? codes : [codes];
  let result;
  try {
    result = await request.execute(client(ks));
  } catch (err) {
    expect(err && typeof err === 'object' && 'code' in err && !(err instanceof Error),
      `expected error ${wanted.join('|')}, got ${err instanceof Error ? err.stack : describe(err)}`);
    expect(wanted.includes(err.code), `expected error ${wanted.join('|')}, got ${err.code}: ${err.message}`);
    eq(err.objectType, 'KalturaAPIException', `${err.code} objectType`);
    if (contains !== undefined) expect(err.message.includes(contains), `${err.code} message ${describe(err.message)} lacks ${describe(contains)}`);
    if (message !== undefined) eq(err.message, message, `${err.code} message`);
    return err;
  }
  throw new CheckFailed(`expected error ${wanted.join('|')}, got a result: ${describe(result)}`);
}

const ids = (listResponse) => listResponse.objects.map((p) => p.id);
const sorted = (xs) => [...xs].sort((a, b) => a - b);

function listPartners(ks, filter, pager = { pageSize: 500 }) {
  return services.partner
    .listAction(new objects.PartnerFilter(filter), new objects.FilterPager(pager))
    .execute(client(ks));
}

function newPartner(name, email, extra = {}) {
  return new objects.Partner({
    name,
    adminName: 'Conformance Admin',
    adminEmail: email,
    description: 'Multi-publishers console',
    phone: '+1-555-0100',
    website: 'https://conformance.example',
    referenceId: `conf-${RUN}`,
    type: enums.PartnerType.ADMIN_CONSOLE,
    ...extra,
  });
}

const impersonate = (childId) =>
  services.session.impersonate(ADMIN_SECRET, childId, '', enums.SessionType.ADMIN, PARENT_ID, 3600, '').execute(client());

/** Memoises a promise-returning setup step; a failure is retried on the next use. */
function once(fn) {
  let p = null;
  return () => (p ??= fn().catch((e) => { p = null; throw e; }));
}

const parentKs = once(() =>
  services.session.start(ADMIN_SECRET, PARENT_ADMIN, enums.SessionType.ADMIN, PARENT_ID, 3600, '').execute(client()));
// The parent impersonating Down Under: a non-VAR partner without the VAR console feature.
const childKs = once(() => impersonate(DOWN_UNDER));
const registered = once(async () =>
  services.partner
    .register(newPartner(`Conformance node ${RUN}`, `node-${RUN}@conformance.example`), '', 0)
    .execute(client(await parentKs())));

const checks = [];
const check = (name, fn) => checks.push([name, fn]);

// ---------------------------------------------------------------- sessions

check('session_start_returns_a_working_ks', async () => {
  const ks = await parentKs();
  expect(typeof ks === 'string' && ks.length > 20, `not a KS: ${describe(ks)}`);
  const info = await services.partner.getInfo().execute(client(ks));
  eq([info.id, info.name, info.objectType], [PARENT_ID, PARENT_NAME, 'KalturaPartner'], 'getInfo id, name, objectType');
});

check('session_start_with_wrong_secret_is_start_session_error', async () => {
  const err = await expectError('START_SESSION_ERROR',
    services.session.start(`wrong-${ADMIN_SECRET}`, '', enums.SessionType.ADMIN, PARENT_ID), null,
    { message: `Error while starting session for partner [${PARENT_ID}]` });
  eq(err.args, { PID: String(PARENT_ID) }, 'args');
});

check('session_get_describes_an_impersonation_ks', async () => {
  const ks = await childKs();
  const info = await services.session.get(ks).execute(client(ks));
  eq([info.objectType, info.partnerId, info.sessionType], ['KalturaSessionInfo', DOWN_UNDER, enums.SessionType.ADMIN],
    'objectType, partnerId, sessionType');
  expect(info.expiry > Date.now() / 1000, `expiry in the past: ${info.expiry}`);
});

check('session_impersonate_acts_as_the_child', async () => {
  const info = await services.partner.getInfo().execute(client(await childKs()));
  eq([info.id, info.name, info.partnerParentId], [DOWN_UNDER, 'Down Under', PARENT_ID], 'getInfo id, name, parent');
});

check('session_impersonate_of_a_non_child_is_start_session_error', async () => {
  const err = await expectError('START_SESSION_ERROR',
    services.session.impersonate(ADMIN_SECRET, NORTHWIND_SALES, '', enums.SessionType.ADMIN, PARENT_ID), null,
    { message: `Error while starting session for partner [${PARENT_ID}]` });
  eq(err.args, { PID: String(PARENT_ID) }, 'args');
});

check('garbage_ks_is_invalid_ks', async () => {
  const ks = 'not-a-real-ks';
  const err = await expectError('INVALID_KS', services.partner.getInfo(), ks,
    { message: `Invalid KS "${ks}", Error "-1,INVALID_STR"` });
  eq(err.args, { KSID: ks, ERR_CODE: '-1', ERR_DESC: 'INVALID_STR' }, 'args');
});

check('partner_list_without_a_ks_is_service_forbidden', async () => {
  await expectError('SERVICE_FORBIDDEN', services.partner.listAction(), null,
    { message: 'The access to service [partner->list] is forbidden' });
});

// ---------------------------------------------------------------- partner.list / count / get / getInfo

check('partner_list_status_and_id_in', async () => {
  const r = await listPartners(await parentKs(), { idIn: SEED_ID_IN, statusIn: '1,2' });
  eq(r.objectType, 'KalturaPartnerListResponse', 'objectType');
  eq(sorted(ids(r)), sorted([PARENT_ID, SHANGHAI, DOWN_UNDER, TEMPLATE_STD, TEMPLATE_LEGACY]), 'ids');
  eq(r.totalCount, 5, 'totalCount');
});

check('partner_list_removed_only', async () => {
  const r = await listPartners(await parentKs(), { statusIn: '3' });
  eq(ids(r), [ADTEST], 'ids');
  eq([r.objects[0].name, r.objects[0].status, r.objects[0].adminEmail], ['adtest name', 3, 'ad@adtest.techpubs.example'],
    'name, status, adminEmail');
});

check('partner_list_name_multi_like_or', async () => {
  const r = await listPartners(await parentKs(), { nameMultiLikeOr: 'Shanghai,Template - Std,Under' });
  eq(sorted(ids(r)), [DOWN_UNDER, SHANGHAI], 'ids');
});

check('partner_list_name_like', async () => {
  const r = await listPartners(await parentKs(), { nameLike: 'test name' });
  eq(ids(r), [ADTEST], 'ids');
});

check('partner_list_group_type_template_active_only', async () => {
  const r = await listPartners(await parentKs(), { partnerGroupTypeEqual: enums.PartnerGroupType.TEMPLATE, statusIn: '1' });
  eq(ids(r), [TEMPLATE_STD], 'ids');
});

check('partner_list_free_text_matches_website_and_email', async () => {
  const ks = await parentKs();
  const byEmail = await listPartners(ks, { partnerNameDescriptionWebsiteAdminNameAdminEmailLike: 'downunder.techpubs' });
  eq(ids(byEmail), [DOWN_UNDER], 'ids by admin email');
  const byName = await listPartners(ks, { partnerNameDescriptionWebsiteAdminNameAdminEmailLike: 'Shanghai', statusIn: '1,2' });
  eq(ids(byName), [SHANGHAI], 'ids by name');
});

check('partner_list_order_by_name_and_created_at', async () => {
  const ks = await parentKs();
  const byName = await listPartners(ks, { idIn: SEED_ID_IN, statusIn: '1,2', orderBy: enums.PartnerOrderBy.NAME_DESC });
  eq(byName.objects.map((p) => p.name),
    ['Template - Standard', 'Template - Legacy', 'Shanghai', 'Down Under', 'Debbie Techpubs'], 'names by -name');
  const byDate = await listPartners(ks, { orderBy: enums.PartnerOrderBy.CREATED_AT_DESC });
  const created = byDate.objects.map((p) => p.createdAt);
  expect(created.every((c) => Number.isInteger(c) && c > 0), `createdAt not unix seconds: ${describe(created)}`);
  eq(created, [...created].sort((a, b) => b - a), 'createdAt order');
});

check('partner_list_pager_counts_before_paging', async () => {
  const ks = await parentKs();
  const filter = { idIn: SEED_ID_IN, orderBy: enums.PartnerOrderBy.ID_DESC };
  const page1 = await listPartners(ks, filter, { pageSize: 4, pageIndex: 1 });
  eq([ids(page1), page1.totalCount], [[TEMPLATE_LEGACY, TEMPLATE_STD, SHANGHAI, DOWN_UNDER], 6], 'page 1');
  const page2 = await listPartners(ks, filter, { pageSize: 4, pageIndex: 2 });
  eq([ids(page2), page2.totalCount], [[ADTEST, PARENT_ID], 6], 'page 2');
});

check('partner_count', async () => {
  const c = client(await parentKs());
  eq(await services.partner.count(new objects.PartnerFilter({ idIn: SEED_ID_IN })).execute(c), 6, 'seed in scope');
  eq(await services.partner.count(new objects.PartnerFilter({ statusIn: '1,2', partnerGroupTypeEqual: 4 })).execute(c), 2,
    'templates');
  const all = await services.partner.listAction(null, new objects.FilterPager({ pageSize: 500 })).execute(c);
  eq(await services.partner.count().execute(c), all.totalCount, 'count() vs list().totalCount');
});

check('partner_get_child', async () => {
  const p = await services.partner.get(SHANGHAI).execute(client(await parentKs()));
  eq([p.id, p.name, p.partnerParentId, p.status], [SHANGHAI, 'Shanghai', PARENT_ID, 1], 'id, name, parent, status');
  eq([p.adminName, p.adminEmail, p.website], ['Muh Wih', 'muh.wih@shanghai.techpubs.example', 'www.kaltura.com'],
    'admin and website');
});

check('partner_get_outside_scope_is_invalid_partner_id', async () => {
  const err = await expectError('INVALID_PARTNER_ID', services.partner.get(NORTHWIND_SALES), await parentKs(),
    { message: `Invalid partner id "${NORTHWIND_SALES}"` });
  eq(err.args, { PID: String(NORTHWIND_SALES) }, 'args');
});

check('partner_get_info_has_the_quotas', async () => {
  const p = await services.partner.getInfo().execute(client(await parentKs()));
  eq([p.publishersQuota, p.adminLoginUsersQuota, p.adminUserId], [5, 3, PARENT_ADMIN],
    'publishersQuota, adminLoginUsersQuota, adminUserId');
});

check('partner_update_renames_the_current_partner', async () => {
  const c = client(await parentKs());
  const renamed = `${PARENT_NAME} (renamed ${RUN})`;
  try {
    const updated = await services.partner.update(new objects.Partner({ name: renamed })).execute(c);
    eq([updated.id, updated.name], [PARENT_ID, renamed], 'update result');
    eq((await services.partner.getInfo().execute(c)).name, renamed, 'read back');
  } finally {
    await services.partner.update(new objects.Partner({ name: PARENT_NAME })).execute(c);
  }
  const back = await services.partner.getInfo().execute(c);
  eq([back.name, back.adminEmail], [PARENT_NAME, PARENT_ADMIN], 'restored');
});

check('partner_update_of_a_child_under_an_impersonated_ks_strips_tags', async () => {
  const child = await registered();
  const c = client(await impersonate(child.id));
  const updated = await services.partner.update(new objects.Partner({ referenceId: '<i>ref</i>-' + RUN })).execute(c);
  eq([updated.id, updated.referenceId], [child.id, `ref-${RUN}`], 'update result');
  const back = await services.partner.get(child.id).execute(client(await parentKs()));
  eq(back.referenceId, `ref-${RUN}`, 'read back by the parent');
});

check('partner_update_admin_user_id_that_is_not_an_administrator', async () => {
  const ks = await impersonate(SHANGHAI);
  await expectError('ACCOUNT_OWNER_NEEDS_PARTNER_ADMIN_ROLE',
    services.partner.update(new objects.Partner({ adminUserId: 'viewer@shanghai.techpubs.example' })), ks);
  await expectError('INTERNAL_SERVERL_ERROR',
    services.partner.update(new objects.Partner({ adminUserId: `nobody-${RUN}` })), ks);
});

// ---------------------------------------------------------------- users

check('user_list_under_an_impersonated_ks_lists_the_childs_active_admins', async () => {
  const c = client(await impersonate(DOWN_UNDER));
  const filter = new objects.UserFilter({ isAdminEqual: enums.NullableBoolean.TRUE_VALUE, statusEqual: enums.UserStatus.ACTIVE });
  const listed = await services.user.listAction(filter, new objects.FilterPager({ pageSize: 100 })).execute(c);
  const found = Object.fromEntries(listed.objects.map((u) => [u.id, u]));
  expect(found['jack.byrne@downunder.techpubs.example'], `admin missing: ${Object.keys(found)}`);
  expect(!found['old.admin@downunder.techpubs.example'], 'a blocked administrator is listed as active');
  const owner = (await services.partner.get(DOWN_UNDER).execute(client(await parentKs()))).adminUserId;
  eq(found[owner]?.isAccountOwner, true, 'the owner is marked');
  eq(listed.objects[0].objectType, 'KalturaUser', 'objectType');
  const everyone = await services.user.listAction(new objects.UserFilter({})).execute(c);
  expect(everyone.objects.some((u) => u.id === 'old.admin@downunder.techpubs.example'), 'blocked users are listed by default');
});

check('user_get_reads_a_user_and_refuses_an_unknown_one', async () => {
  const ks = await impersonate(SHANGHAI);
  const u = await services.user.get('chen.wei@shanghai.techpubs.example').execute(client(ks));
  eq([u.id, u.fullName, u.isAdmin, u.roleNames], ['chen.wei@shanghai.techpubs.example', 'Chen Wei', true, 'Content Moderator'], 'user');
  await expectError('INVALID_USER_ID', services.user.get(`nobody-${RUN}`), ks, { message: 'Invalid user id' });
});

// ---------------------------------------------------------------- partner.register

check('partner_register_creates_a_child', async () => {
  const p = await registered();
  expect(Number.isInteger(p.id) && p.id > 0, `no id: ${describe(p)}`);
  eq([p.objectType, p.partnerParentId, p.status], ['KalturaPartner', PARENT_ID, 1], 'objectType, parent, status');
  eq([p.adminEmail, p.adminUserId], [`node-${RUN}@conformance.example`, `node-${RUN}@conformance.example`], 'admin');
  for (const field of ['secret', 'adminSecret', 'cmsPassword']) expect(p[field], `${field} missing`);
  const listed = await listPartners(await parentKs(), { idIn: String(p.id) });
  eq([ids(listed), listed.objects[0].name], [[p.id], `Conformance node ${RUN}`], 'listed by the parent');
});

check('partner_register_duplicate_admin_email_already_exists', async () => {
  const email = (await registered()).adminEmail;
  const err = await expectError('PARTNER_REGISTRATION_ERROR',
    services.partner.register(newPartner('Dup', email)), await parentKs(),
    { message: `Error while registering partner with message "User with email [${email}] already exists in system."` });
  eq(err.args, { MESSAGE: `User with email [${email}] already exists in system.` }, 'args');
});

check('partner_register_invalid_email', async () => {
  await expectError('PARTNER_REGISTRATION_ERROR',
    services.partner.register(newPartner('Bad email', 'nobody@')), await parentKs(), { contains: 'Invalid email address' });
});

// registerAction's try wraps every failure inside it, getParentPartnerInfo's (naming the parent) included.
const notAGroup = (pid) => `Partner id [${pid}] is not a VAR/GROUP, but is attempting to create child partner`;
const registrationError = (message) => `Error while registering partner with message "${message}"`;

check('partner_register_with_a_template_that_is_not_a_child_fails', async () => {
  const c = client(await parentKs());
  const before = await services.partner.count().execute(c);
  const err = await expectError('PARTNER_REGISTRATION_ERROR',
    services.partner.register(newPartner('Bad template', `node-tpl-${RUN}@conformance.example`), '', NORTHWIND_SALES),
    await parentKs(), { message: registrationError(notAGroup(PARENT_ID)) });
  eq(err.args, { MESSAGE: notAGroup(PARENT_ID) }, 'args');
  eq(await services.partner.count().execute(c), before, 'partner count after the failed register');
});

check('partner_register_without_a_mandatory_field_fails', async () => {
  const partner = newPartner('No name', `node-noname-${RUN}@conformance.example`);
  delete partner.name;
  await expectError('PARTNER_REGISTRATION_ERROR', services.partner.register(partner), await parentKs(),
    { message: registrationError('The property "name" cannot be null') });
  const readOnly = newPartner('Read only', `node-ro-${RUN}@conformance.example`, { status: 1 });
  await expectError('PARTNER_REGISTRATION_ERROR', services.partner.register(readOnly), await parentKs(),
    { message: registrationError('The property "status" cannot be updated') });
});

check('partner_register_without_the_partner_argument_is_missing_mandatory_parameter', async () => {
  // services.partner.register always sends `partner`; build the request as the client's services do.
  const request = new kaltura.RequestBuilder('partner', 'register', { cmsPassword: '' });
  const err = await expectError('MISSING_MANDATORY_PARAMETER', request, await parentKs(),
    { message: 'Missing parameter "partner"' });
  eq(err.args, { PARAM_NAME: 'partner' }, 'args');
});

check('partner_register_from_a_non_var_partner_is_refused', async () => {
  await expectError('PARTNER_REGISTRATION_ERROR',
    services.partner.register(newPartner('From child', `node-child-${RUN}@conformance.example`)), await childKs(),
    { message: registrationError(notAGroup(DOWN_UNDER)) });
});

// ---------------------------------------------------------------- varConsole

check('var_console_update_status_blocks_and_unblocks', async () => {
  const c = client(await parentKs());
  const statusOf = async () => (await services.partner.get(SHANGHAI).execute(c)).status;
  try {
    eq(await services.varConsole.updateStatus(SHANGHAI, enums.PartnerStatus.BLOCKED).execute(c), null, 'void result');
    eq(await statusOf(), enums.PartnerStatus.BLOCKED, 'status after block');
  } finally {
    await services.varConsole.updateStatus(SHANGHAI, enums.PartnerStatus.ACTIVE).execute(c);
  }
  eq(await statusOf(), enums.PartnerStatus.ACTIVE, 'status after unblock');
});

check('var_console_without_the_feature_is_feature_forbidden', async () => {
  const err = await expectError('FEATURE_FORBIDDEN',
    services.varConsole.updateStatus(DOWN_UNDER, enums.PartnerStatus.BLOCKED), await childKs(),
    { message: 'The usage of feature [varConsole] is forbidden' });
  eq(err.args, { FEATURE: 'varConsole' }, 'args');
});

check('var_console_unknown_partner', async () => {
  const err = await expectError('UNKNOWN_PARTNER_ID',
    services.varConsole.updateStatus(999999, enums.PartnerStatus.BLOCKED), await parentKs(),
    { message: 'Unknown partner_id [999999]' });
  eq(err.args, { PID: '999999' }, 'args');
});

// ---------------------------------------------------------------- multirequest

check('multirequest_with_a_result_reference', async () => {
  const results = await services.partner.get(DOWN_UNDER)
    .add(services.partner.get('{1:result:id}'))
    .add(services.session.impersonate(ADMIN_SECRET, '{2:result:id}', '', enums.SessionType.ADMIN, PARENT_ID, 600, ''))
    .execute(client(await parentKs()));
  expect(Array.isArray(results) && results.length === 3, `not 3 results: ${describe(results)}`);
  eq([results[0].id, results[1].id, results[1].name], [DOWN_UNDER, DOWN_UNDER, 'Down Under'], 'referenced get');
  const info = await services.partner.getInfo().execute(client(results[2]));
  eq(info.id, DOWN_UNDER, 'KS from the referenced impersonation');
});

check('multirequest_errors_are_per_item', async () => {
  const results = await services.partner.get(SHANGHAI)
    .add(services.partner.get(NORTHWIND))
    .add(services.partner.count(new objects.PartnerFilter({ idIn: SEED_ID_IN })))
    .execute(client(await parentKs()));
  expect(Array.isArray(results) && results.length === 3, `not 3 results: ${describe(results)}`);
  eq(results[0].name, 'Shanghai', 'item 1');
  eq([results[1].code, results[1].message, results[1].objectType],
    ['INVALID_PARTNER_ID', `Invalid partner id "${NORTHWIND}"`, 'KalturaAPIException'], 'item 2');
  eq(results[2], 6, 'item 3');
});

// ---------------------------------------------------------------- user.loginByLoginId

check('user_login_by_login_id_returns_a_working_ks', async () => {
  const ks = await services.user.loginByLoginId(PARENT_ADMIN, PARENT_PASSWORD, PARENT_ID).execute(client());
  expect(typeof ks === 'string' && ks.length > 20, `not a KS: ${describe(ks)}`);
  eq((await services.partner.getInfo().execute(client(ks))).id, PARENT_ID, 'getInfo id');
});

check('user_login_by_login_id_wrong_password', async () => {
  await expectError('USER_WRONG_PASSWORD',
    services.user.loginByLoginId(PARENT_ADMIN, 'not-the-password', PARENT_ID), null, { message: 'Wrong password supplied' });
  await expectError('USER_WRONG_PASSWORD',
    services.user.loginByLoginId(`nobody-${RUN}@conformance.example`, PARENT_PASSWORD, PARENT_ID), null);
});

// ---------------------------------------------------------------- reports (kaltura-analytics.md)

const reportFilter = (extra = {}) =>
  new objects.EndUserReportInputFilter({ fromDate: REPORT_FROM, toDate: REPORT_TO, ...extra });
const reportOptions = () => new objects.ReportResponseOptions({ delimiter: '|' });

/** A table's rows, each ending with ';'. */
function tableRows(table) {
  expect(table.data === '' || table.data.endsWith(';'), `rows do not end with ';': ${describe(table.data)}`);
  return table.data.split(';').slice(0, -1).map((r) => r.split('|'));
}

async function table(type, { pager = { pageSize: 500 }, order = null, ids = null, filter = {} } = {}) {
  return services.report
    .getTable(type, reportFilter(filter), new objects.FilterPager(pager), order, ids, reportOptions())
    .execute(client(await parentKs()));
}

check('report_42_has_a_row_per_partner_in_the_servers_columns', async () => {
  const t = await table('42');
  eq(t.objectType, 'KalturaReportTable', 'objectType');
  eq(t.header.split('|'), [...PARTNER_COLUMNS, ...M42], 'header');
  const rows = tableRows(t);
  eq(sorted(rows.map((r) => Number(r[2]))), sorted([PARENT_ID, SHANGHAI, DOWN_UNDER, ADTEST, TEMPLATE_STD, TEMPLATE_LEGACY]),
    'the parent and every child, of any status');
  eq(t.totalCount, rows.length, 'totalCount');
  const again = await table('42');
  eq([again.header, again.data], [t.header, t.data], 'second answer');
});

check('report_42_orders_and_pages', async () => {
  const bandwidth = tableRows(await table('42', { order: '-bandwidth_consumption' })).map((r) => Number(r[5]));
  eq(bandwidth, [...bandwidth].sort((a, b) => b - a), '-bandwidth_consumption');
  const ids = tableRows(await table('42', { order: '+partner_id' })).map((r) => Number(r[2]));
  eq(ids, sorted(ids), '+partner_id (one page)');
  const page = await table('42', { pager: { pageSize: 4, pageIndex: 2 }, order: '+total_plays' });
  eq([tableRows(page).length, page.totalCount], [2, 6], 'second page of 4');
});

check('report_42_total_sums_the_rows', async () => {
  const total = await services.report.getTotal('42', reportFilter(), null, reportOptions()).execute(client(await parentKs()));
  eq([total.objectType, total.header.split('|')], ['KalturaReportTotal', M42], 'objectType, header');
  const values = Object.fromEntries(M42.map((h, i) => [h, total.data.split('|')[i]]));
  const rows = tableRows(await table('42'));
  eq(Number(values.total_plays), rows.reduce((s, r) => s + Number(r[4]), 0), 'total_plays');
});

check('report_object_ids_keep_the_parent_and_its_children', async () => {
  const one = await table('42', { ids: `${DOWN_UNDER}|${NORTHWIND_SALES}` });
  eq(tableRows(one).map((r) => r[2]), [String(DOWN_UNDER)], '42 narrowed');
  const none = await table('42', { ids: String(NORTHWIND_SALES) });
  eq([none.data, none.totalCount], ['', 0], '42 with no partner left');
  const empty = await table('19', { ids: String(NORTHWIND_SALES) });
  eq(empty, { objectType: 'KalturaReportTable' }, '19 with no partner left');
});

check('report_headers_follow_the_interval', async () => {
  const halfYear = { fromDate: undefined, toDate: undefined, fromDay: '20240101', toDay: '20240630' };
  const months = await table('20021', { filter: { ...halfYear, interval: enums.ReportInterval.MONTHS } });
  eq(months.header.split('|'), ['month_id', ...G2], '20021 by month');
  eq(tableRows(months).map((r) => r[0]), ['202401', '202402', '202403', '202404', '202405', '202406'], 'months');
  const years = await table('20023', { filter: { ...halfYear, interval: enums.ReportInterval.YEARS } });
  expect(!years.header.startsWith('year_id') && years.header.startsWith('unique_known_users'), `20023 by year: ${years.header}`);
  const days = await table('201');
  eq([days.totalCount, tableRows(days)[0][0], tableRows(days)[30][0]], [31, '20240101', '20240131'], 'zero-filled days');
});

check('report_graphs_share_their_keys', async () => {
  const c = client(await parentKs());
  const filter = reportFilter({ interval: enums.ReportInterval.MONTHS, fromDate: 1704067200, toDate: 1711929599 });
  const graphs = await services.report.getGraphs('20021', filter, null, null, reportOptions()).execute(c);
  eq(graphs.map((g) => [g.objectType, g.id]), G2.map((id) => ['KalturaReportGraph', id]), 'graphs');
  const keys = graphs.map((g) => g.data.split(';').slice(0, -1).map((p) => p.split('|')[0]));
  eq(keys[0], ['202401', '202402', '202403'], 'keys');
  expect(keys.every((k) => JSON.stringify(k) === JSON.stringify(keys[0])), `keys differ: ${describe(keys)}`);
  eq(await services.report.getGraphs('42', filter, null, null, reportOptions()).execute(c), [], '42 has no graphs');
});

check('report_errors', async () => {
  await expectError('INVALID_ENUM_VALUE', services.report.getTotal('300', reportFilter()), await parentKs(),
    { message: 'Invalid enumeration value "300" for parameter "reportType", expecting enumeration type "KalturaReportType"' });
  await expectError('MISSING_MANDATORY_PARAMETER',
    services.report.getTable('42', reportFilter(), null), await parentKs(), { message: 'Missing parameter "pager"' });
});

check('var_console_partner_usage_defaults_to_the_last_30_days', async () => {
  const c = client(await parentKs());
  const usage = await services.varConsole
    .getPartnerUsage(new objects.PartnerFilter({ idIn: `${SHANGHAI},${NORTHWIND}` }), null, new objects.FilterPager({ pageSize: 100 }))
    .execute(c);
  eq(usage.objectType, 'KalturaPartnerUsageListResponse', 'objectType');
  eq([usage.totalCount, usage.objects.length], [31, 31], 'a row a day');
  const item = usage.objects[0];
  eq([item.objectType, item.partnerId, item.partnerName], ['KalturaVarPartnerUsageItem', SHANGHAI, 'Shanghai'], 'item');
  expect(String(item.dateId).length === 8, `YYYYMMDD: ${describe(item.dateId)}`);
  expect(Number.isInteger(item.bandwidth) && item.plays === undefined, `MB rounded up, plays absent: ${describe(item)}`);
  eq(usage.total.objectType, 'KalturaVarPartnerUsageTotalItem', 'total');
  await expectError('FEATURE_FORBIDDEN', services.varConsole.getPartnerUsage(), await childKs(),
    { message: 'The usage of feature [varConsole] is forbidden' });
});

check('permission_list_grants_multi_account_analytics', async () => {
  const filter = new objects.PermissionFilter({ nameEqual: 'FEATURE_MULTI_ACCOUNT_ANALYTICS', statusEqual: 1 });
  const listed = await services.permission.listAction(filter).execute(client(await parentKs()));
  eq([listed.objectType, listed.totalCount], ['KalturaPermissionListResponse', 1], 'objectType, totalCount');
  const p = listed.objects[0];
  eq([p.objectType, p.name, p.type, p.status, p.partnerId], ['KalturaPermission', 'FEATURE_MULTI_ACCOUNT_ANALYTICS', 2, 1, PARENT_ID],
    'permission');
  const theirs = await services.permission.listAction(filter).execute(client(await childKs()));
  eq(theirs.totalCount, 0, 'a child without the feature');
});

// ---------------------------------------------------------------- system

check('system_ping', async () => {
  eq(await services.system.ping().execute(client()), true, 'ping');
});

// ---------------------------------------------------------------- runner

function failureDetail(err) {
  if (err instanceof CheckFailed) return err.message;
  if (err && typeof err === 'object' && 'code' in err && !(err instanceof Error)) return `${err.code}: ${err.message}`;
  if (err?.isAxiosError) return `HTTP failure: ${err.message}${err.response ? ` ${describe(err.response.data)}` : ''}`;
  return err instanceof Error ? `${err.name}: ${err.message}` : describe(err);
}

let passed = 0, failed = 0;
for (const [name, fn] of checks) {
  try {
    await fn();
    passed += 1;
    console.log(`ok ${name}`);
  } catch (err) {
    failed += 1;
    console.log(`FAIL ${name}: ${failureDetail(err)}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
