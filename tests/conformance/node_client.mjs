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
const REPORT_FROM = 1704067200, REPORT_TO = 1706745600; // 2024-01-01 .. 2024-02-01 UTC

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

check('partner_register_with_a_template_that_is_not_a_child_fails', async () => {
  const c = client(await parentKs());
  const before = await services.partner.count().execute(c);
  const err = await expectError(['PARTNER_REGISTRATION_ERROR', 'INVALID_PARTNER_ID', 'UNKNOWN_PARTNER_ID'],
    services.partner.register(newPartner('Bad template', `node-tpl-${RUN}@conformance.example`), '', NORTHWIND_SALES),
    await parentKs());
  expect(err.message, 'empty message');
  eq(await services.partner.count().execute(c), before, 'partner count after the failed register');
});

check('partner_register_without_a_mandatory_field_fails', async () => {
  // The real server answers PROPERTY_VALIDATION_CANNOT_BE_NULL for a missing property.
  const partner = newPartner('No name', `node-noname-${RUN}@conformance.example`);
  delete partner.name;
  await expectError(['PROPERTY_VALIDATION_CANNOT_BE_NULL', 'MISSING_MANDATORY_PARAMETER'],
    services.partner.register(partner), await parentKs(), { contains: 'name' });
});

check('partner_register_without_the_partner_argument_is_missing_mandatory_parameter', async () => {
  // services.partner.register always sends `partner`; build the request as the client's services do.
  const request = new kaltura.RequestBuilder('partner', 'register', { cmsPassword: '' });
  const err = await expectError('MISSING_MANDATORY_PARAMETER', request, await parentKs(),
    { message: 'Missing parameter "partner"' });
  eq(err.args, { PARAM_NAME: 'partner' }, 'args');
});

check('partner_register_from_a_non_var_partner_is_refused', async () => {
  await expectError('NON_GROUP_PARTNER_ATTEMPTING_TO_ASSIGN_CHILD',
    services.partner.register(newPartner('From child', `node-child-${RUN}@conformance.example`)), await childKs(),
    { message: `Partner id [${DOWN_UNDER}] is not a VAR/GROUP, but is attempting to create child partner` });
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

// ---------------------------------------------------------------- reports and system

const reportFilter = () => new objects.EndUserReportInputFilter({ fromDate: REPORT_FROM, toDate: REPORT_TO });
const reportOptions = () => new objects.ReportResponseOptions({ delimiter: '|' });

check('report_get_table_per_account', async () => {
  const c = client(await parentKs());
  const get = () => services.report
    .getTable('60', reportFilter(), new objects.FilterPager({ pageSize: 100, pageIndex: 1 }), null, null, reportOptions())
    .execute(c);
  const table = await get();
  eq(table.objectType, 'KalturaReportTable', 'objectType');
  expect(table.header && table.data, `empty table: ${describe(table)}`);
  const columns = table.header.split('|');
  const rows = table.data.split(';').filter(Boolean);
  expect(columns.length > 1, `header not split by '|': ${describe(table.header)}`);
  expect(rows.length > 0 && rows.every((r) => r.split('|').length === columns.length),
    `rows do not match the header: ${describe(table.data)}`);
  const again = await get();
  eq([again.header, again.data], [table.header, table.data], 'second answer');
});

check('report_get_total_per_account', async () => {
  const c = client(await parentKs());
  const get = () => services.report.getTotal('60', reportFilter(), null, reportOptions()).execute(c);
  const total = await get();
  eq(total.objectType, 'KalturaReportTotal', 'objectType');
  expect(total.header && total.data, `empty total: ${describe(total)}`);
  eq(total.data.split('|').length, total.header.split('|').length, 'columns in data vs header');
  const again = await get();
  eq([again.header, again.data], [total.header, total.data], 'second answer');
});

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
