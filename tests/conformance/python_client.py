"""Conformance checks: the official Python client (kalturaapiclient 23.10.0) against the emulator.

Reads KALTURA_SERVICE_URL, KALTURA_PARTNER_ID and KALTURA_ADMIN_SECRET, expects the demo seed,
prints `ok <name>` or `FAIL <name>: <detail>` per check, then `N passed, M failed`.
Safe to run more than once against one emulator: it restores what it changes and uses unique emails.
"""

import base64
import functools
import hashlib
import os
import secrets
import sys
import traceback
import urllib.parse

from Crypto.Cipher import AES  # pycryptodome, which the client itself needs for generateSessionV2
from KalturaClient import KalturaClient, KalturaConfiguration
from KalturaClient.Base import KalturaParams
from KalturaClient.exceptions import KalturaException
from KalturaClient.Plugins.Core import (
    KalturaEndUserReportInputFilter,
    KalturaFilterPager,
    KalturaNullableBoolean,
    KalturaPartner,
    KalturaPartnerFilter,
    KalturaPartnerGroupType,
    KalturaPartnerOrderBy,
    KalturaPartnerStatus,
    KalturaPartnerType,
    KalturaPermissionFilter,
    KalturaReportInputFilter,
    KalturaReportInterval,
    KalturaReportResponseOptions,
    KalturaSessionType,
    KalturaUserFilter,
    KalturaUserStatus,
)

SERVICE_URL = os.environ["KALTURA_SERVICE_URL"]
PARENT_ID = int(os.environ["KALTURA_PARTNER_ID"])
ADMIN_SECRET = os.environ["KALTURA_ADMIN_SECRET"]

# The demo seed (src/emulator/seed.rs, `demo()`).
PARENT_NAME = "Debbie Techpubs"
PARENT_ADMIN = "debbie@techpubs.example"
PARENT_PASSWORD = "Demo-Passw0rd!"
SHANGHAI, DOWN_UNDER, ADTEST, TEMPLATE_STD, TEMPLATE_LEGACY = 6475, 6474, 6472, 6478, 6479
NORTHWIND, NORTHWIND_SALES = 7001, 7002
SEED_IDS = [PARENT_ID, SHANGHAI, DOWN_UNDER, ADTEST, TEMPLATE_STD, TEMPLATE_LEGACY, NORTHWIND, NORTHWIND_SALES]
SEED_ID_IN = ",".join(map(str, SEED_IDS))

RUN = secrets.token_hex(4)  # makes emails and names unique per run
REPORT_FROM, REPORT_TO = 1704067200, 1706745599  # 2024-01-01 00:00 .. 2024-01-31 23:59:59 UTC
G2 = ["bandwidth_consumption", "average_storage", "peak_storage", "added_storage", "deleted_storage",
      "combined_bandwidth_storage", "transcoding_consumption"]
M42 = ["total_plays", "bandwidth_consumption", "average_storage", "transcoding_consumption", "total_entries",
       "total_end_users", "total_views", "origin_bandwidth_consumption", "added_storage", "deleted_storage",
       "peak_storage", "unique_known_users"]
PARTNER_COLUMNS = ["status", "partner_name", "partner_id", "created_at"]


# ---------------------------------------------------------------- helpers

def client(ks=None):
    """A fresh client (so a failed multirequest never leaks state into the next check)."""
    c = KalturaClient(KalturaConfiguration(serviceUrl=SERVICE_URL))
    if ks is not None:
        c.setKs(ks)
    return c


def value(x):
    """Enum objects carry .value; plain values pass through."""
    return getattr(x, "value", x)


def expect(cond, detail):
    if not cond:
        raise AssertionError(detail)


def eq(got, want, what):
    expect(got == want, f"{what}: expected {want!r}, got {got!r}")


def expect_error(code, call, *args, contains=None, message=None, **kwargs):
    """Run call(*args) expecting a KalturaException with `code` (a str or a set of str)."""
    try:
        result = call(*args, **kwargs)
    except KalturaException as e:
        codes = {code} if isinstance(code, str) else code
        expect(e.code in codes, f"expected error {code}, got {e.code}: {e.message}")
        if contains is not None:
            expect(contains in e.message, f"{e.code} message {e.message!r} lacks {contains!r}")
        if message is not None:
            eq(e.message, message, f"{e.code} message")
        return e
    raise AssertionError(f"expected error {code}, got a result: {describe(result)}")


def describe(obj):
    if hasattr(obj, "__dict__"):
        fields = {k: value(v) for k, v in vars(obj).items() if v is not NotImplemented and v is not None}
        return f"{type(obj).__name__}{fields}"
    return repr(obj)


def ids(list_response):
    return [p.id for p in list_response.objects]


def list_partners(ks, pager=None, **filter_fields):
    return client(ks).partner.list(KalturaPartnerFilter(**filter_fields), pager or KalturaFilterPager(pageSize=500))


def new_partner(name, email, **extra):
    fields = dict(
        name=name,
        adminName="Conformance Admin",
        adminEmail=email,
        description="Multi-publishers console",
        phone="+1-555-0100",
        website="https://conformance.example",
        referenceId=f"conf-{RUN}",
        type=KalturaPartnerType.ADMIN_CONSOLE,
    )
    fields.update(extra)
    return KalturaPartner(**fields)


def impersonate(child_id, expiry=3600):
    return client().session.impersonate(ADMIN_SECRET, child_id, "", KalturaSessionType.ADMIN, PARENT_ID, expiry, "")


@functools.cache
def parent_ks():
    return client().session.start(ADMIN_SECRET, PARENT_ADMIN, KalturaSessionType.ADMIN, PARENT_ID, 3600, "")


@functools.cache
def child_ks():
    """A KS of the parent impersonating Shanghai: a non-VAR partner without the VAR console feature."""
    return impersonate(SHANGHAI)


@functools.cache
def registered():
    """One child registered by this run (shared by the checks that need a fresh partner)."""
    p = new_partner(f"Conformance py {RUN}", f"py-{RUN}@conformance.example")
    return client(parent_ks()).partner.register(p, "", TEMPLATE_STD)


CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


# ---------------------------------------------------------------- sessions

@check
def session_start_returns_a_working_ks():
    ks = parent_ks()
    expect(isinstance(ks, str) and len(ks) > 20, f"not a KS: {ks!r}")
    info = client(ks).partner.getInfo()
    eq(info.id, PARENT_ID, "getInfo id")
    eq(info.name, PARENT_NAME, "getInfo name")


@check
def session_start_with_wrong_secret_is_start_session_error():
    expect_error("START_SESSION_ERROR", client().session.start, "wrong-" + ADMIN_SECRET, "",
                 KalturaSessionType.ADMIN, PARENT_ID, 3600,
                 message=f"Error while starting session for partner [{PARENT_ID}]")


@check
def session_get_describes_the_ks():
    ks = parent_ks()
    info = client(ks).session.get(ks)
    expect(info is not None, "session.get returned no object (objectType missing?)")
    eq(info.partnerId, PARENT_ID, "partnerId")
    eq(info.userId, PARENT_ADMIN, "userId")
    eq(value(info.sessionType), KalturaSessionType.ADMIN, "sessionType")
    eq(info.ks, ks, "ks")


@check
def session_impersonate_acts_as_the_child():
    ks = child_ks()
    info = client(ks).partner.getInfo()
    eq(info.id, SHANGHAI, "getInfo id")
    eq(info.name, "Shanghai", "getInfo name")
    eq(info.partnerParentId, PARENT_ID, "partnerParentId")


@check
def session_impersonate_of_a_non_child_is_start_session_error():
    for target in (NORTHWIND, NORTHWIND_SALES, 999999):
        expect_error("START_SESSION_ERROR", impersonate, target,
                     message=f"Error while starting session for partner [{PARENT_ID}]")


@check
def impersonating_a_removed_child_gives_a_ks_that_is_blocked():
    ks = impersonate(ADTEST)
    expect_error("SERVICE_FORBIDDEN_CONTENT_BLOCKED", client(ks).partner.getInfo)


# ---------------------------------------------------------------- locally generated KS

def local_ks_v2(secret=ADMIN_SECRET, expiry=3600, privileges=""):
    return KalturaClient.generateSessionV2(secret, PARENT_ADMIN, KalturaSessionType.ADMIN, PARENT_ID,
                                           expiry, privileges).decode()


@check
def locally_generated_ks_v2_is_accepted():
    info = client(local_ks_v2()).partner.getInfo()
    eq(info.id, PARENT_ID, "getInfo id")
    eq(info.publishersQuota, 5, "publishersQuota")


@check
def locally_generated_ks_v2_with_privileges_is_accepted():
    ks = local_ks_v2(privileges="disableentitlement,enablechangeaccount:6464")
    eq(client(ks).partner.get(SHANGHAI).name, "Shanghai", "partner.get name")


@check
def locally_generated_ks_v1_is_accepted():
    ks = KalturaClient.generateSession(ADMIN_SECRET, PARENT_ADMIN, KalturaSessionType.ADMIN, PARENT_ID, 3600).decode()
    eq(client(ks).partner.getInfo().id, PARENT_ID, "getInfo id")


@check
def locally_generated_ks_for_a_child_uses_the_childs_secret():
    child_secret = client(parent_ks()).partner.get(SHANGHAI).adminSecret
    expect(child_secret and child_secret != ADMIN_SECRET, f"child adminSecret: {child_secret!r}")
    ks = KalturaClient.generateSessionV2(child_secret, "", KalturaSessionType.ADMIN, SHANGHAI, 600, "").decode()
    eq(client(ks).partner.getInfo().id, SHANGHAI, "getInfo id")


@check
def impersonation_ks_is_signed_by_the_child_and_names_the_parent():
    """kmc-ng's "Rich Media CMS Login" KS: decrypted here with the child's admin secret (kaltura-api.md §6, §7)."""
    privileges = f"disableentitlement,enablechangeaccount:{SHANGHAI}"
    admin = "muh.wih@shanghai.techpubs.example"
    ks = client().session.impersonate(ADMIN_SECRET, SHANGHAI, admin, KalturaSessionType.ADMIN, PARENT_ID, 600, privileges)
    raw = base64.urlsafe_b64decode(ks + "=" * (-len(ks) % 4))
    version, pid, encrypted = raw.split(b"|", 2)
    eq((version, pid), (b"v2", str(SHANGHAI).encode()), "KS prefix")
    key = hashlib.sha1(client(parent_ks()).partner.get(SHANGHAI).adminSecret.encode()).digest()[:16]
    plain = AES.new(key, AES.MODE_CBC, b"\0" * 16).decrypt(encrypted).rstrip(b"\0")
    eq(hashlib.sha1(plain[20:]).digest(), plain[:20], "SHA1 of the decrypted fields")
    fields = urllib.parse.parse_qs(plain[36:].decode(), keep_blank_values=True)
    eq({k: v[0] for k, v in fields.items() if k != "_e"},
       {"disableentitlement": "", "enablechangeaccount": str(SHANGHAI), "_t": "2", "_u": admin, "_m": str(PARENT_ID)},
       "KS fields")
    eq(client(ks).partner.getInfo().id, SHANGHAI, "getInfo id")


@check
def expired_ks_is_invalid_ks_expired():
    ks = local_ks_v2(expiry=-3600)
    expect_error("INVALID_KS", client(ks).partner.getInfo, contains="EXPIRED")


@check
def ks_signed_with_a_wrong_secret_is_invalid_ks():
    ks = local_ks_v2(secret="0123456789abcdef0123456789abcdef")
    expect_error("INVALID_KS", client(ks).partner.getInfo, message=f'Invalid KS "{ks}", Error "-1,INVALID_STR"')


@check
def ks_v1_signed_with_a_wrong_secret_is_invalid_ks():
    ks = KalturaClient.generateSession("not-the-secret", PARENT_ADMIN, KalturaSessionType.ADMIN, PARENT_ID, 3600).decode()
    expect_error("INVALID_KS", client(ks).partner.list, contains="INVALID_STR")


# ---------------------------------------------------------------- partner.list / count / get / getInfo

@check
def partner_list_status_in_keeps_the_parent_and_its_active_or_blocked_children():
    r = list_partners(parent_ks(), idIn=SEED_ID_IN, statusIn="1,2")
    eq(sorted(ids(r)), sorted([PARENT_ID, SHANGHAI, DOWN_UNDER, TEMPLATE_STD, TEMPLATE_LEGACY]), "ids")
    eq(r.totalCount, 5, "totalCount")
    statuses = {p.id: value(p.status) for p in r.objects}
    eq(statuses[TEMPLATE_LEGACY], KalturaPartnerStatus.BLOCKED, "status of 6479")


@check
def partner_list_is_scoped_to_the_parent_and_its_children():
    r = list_partners(parent_ks())
    expect(PARENT_ID in ids(r), "the parent itself is missing")
    for p in r.objects:
        expect(p.id == PARENT_ID or p.partnerParentId == PARENT_ID, f"out of scope: {p.id} (parent {p.partnerParentId})")
    expect(NORTHWIND not in ids(r) and NORTHWIND_SALES not in ids(r), "unrelated partners listed")
    eq(r.totalCount, len(r.objects), "totalCount")


@check
def partner_list_id_in_ignores_partners_out_of_scope():
    r = list_partners(parent_ks(), idIn=f"{SHANGHAI},{ADTEST},{NORTHWIND}")
    eq(sorted(ids(r)), [ADTEST, SHANGHAI], "ids")
    adtest = next(p for p in r.objects if p.id == ADTEST)
    eq(value(adtest.status), KalturaPartnerStatus.FULL_BLOCK, "status of 6472")
    eq(adtest.referenceId, "reference-adtest", "referenceId of 6472")


@check
def partner_list_name_like():
    r = list_partners(parent_ks(), nameLike="Template")
    eq(sorted(ids(r)), [TEMPLATE_STD, TEMPLATE_LEGACY], "ids")


@check
def partner_list_name_multi_like_or():
    r = list_partners(parent_ks(), nameMultiLikeOr="Shang, Down Under")
    eq(sorted(ids(r)), [DOWN_UNDER, SHANGHAI], "ids")


@check
def partner_list_partner_group_type_equal_template():
    r = list_partners(parent_ks(), partnerGroupTypeEqual=KalturaPartnerGroupType.TEMPLATE, statusIn="1,2")
    eq(sorted(ids(r)), [TEMPLATE_STD, TEMPLATE_LEGACY], "ids")


@check
def partner_list_free_text_matches_admin_name_and_email():
    r = list_partners(parent_ks(), partnerNameDescriptionWebsiteAdminNameAdminEmailLike="Renee Dvir")
    eq(ids(r), [DOWN_UNDER], "ids by admin name")
    r = list_partners(parent_ks(), partnerNameDescriptionWebsiteAdminNameAdminEmailLike="muh.wih@shanghai")
    eq(ids(r), [SHANGHAI], "ids by admin email")
    eq(r.objects[0].adminName, "Muh Wih", "adminName")


@check
def partner_list_order_by_name_ascending():
    r = list_partners(parent_ks(), idIn=SEED_ID_IN, statusIn="1,2", orderBy=KalturaPartnerOrderBy.NAME_ASC)
    eq([p.name for p in r.objects],
       ["Debbie Techpubs", "Down Under", "Shanghai", "Template - Legacy", "Template - Standard"], "names")


@check
def partner_list_order_by_created_at_descending():
    registered()  # at least one partner newer than the seed
    r = list_partners(parent_ks(), orderBy=KalturaPartnerOrderBy.CREATED_AT_DESC)
    created = [p.createdAt for p in r.objects]
    expect(all(isinstance(c, int) and c > 0 for c in created), f"createdAt not unix seconds: {created}")
    eq(created, sorted(created, reverse=True), "createdAt order")
    eq(r.objects[0].createdAt, max(created), "first row is the newest")


@check
def partner_list_pager_counts_before_paging():
    f = dict(idIn=SEED_ID_IN, statusIn="1,2", orderBy=KalturaPartnerOrderBy.ID_ASC)
    page2 = list_partners(parent_ks(), KalturaFilterPager(pageSize=2, pageIndex=2), **f)
    eq(ids(page2), [SHANGHAI, TEMPLATE_STD], "page 2 ids")
    eq(page2.totalCount, 5, "totalCount")
    page3 = list_partners(parent_ks(), KalturaFilterPager(pageSize=2, pageIndex=3), **f)
    eq(ids(page3), [TEMPLATE_LEGACY], "page 3 ids")
    page9 = list_partners(parent_ks(), KalturaFilterPager(pageSize=2, pageIndex=9), **f)
    eq((ids(page9), page9.totalCount), ([], 5), "page beyond the end")


@check
def partner_count_matches_list():
    c = client(parent_ks())
    eq(c.partner.count(KalturaPartnerFilter(idIn=SEED_ID_IN)), 6, "count of the seed in scope")
    eq(c.partner.count(KalturaPartnerFilter(statusIn="3")), 1, "count of removed")
    everything = c.partner.list(KalturaPartnerFilter(), KalturaFilterPager(pageSize=500))
    eq(c.partner.count(), everything.totalCount, "count() vs list().totalCount")


@check
def partner_get_child():
    p = client(parent_ks()).partner.get(DOWN_UNDER)
    eq((p.id, p.name, p.partnerParentId), (DOWN_UNDER, "Down Under", PARENT_ID), "id, name, parent")
    eq((p.adminName, p.adminEmail), ("Renee Dvir", "renee.dvir@downunder.techpubs.example"), "admin")
    eq(value(p.status), KalturaPartnerStatus.ACTIVE, "status")


@check
def partner_get_outside_scope_is_invalid_partner_id():
    for pid in (NORTHWIND, 999999):
        expect_error("INVALID_PARTNER_ID", client(parent_ks()).partner.get, pid, message=f'Invalid partner id "{pid}"')


@check
def partner_get_info_has_the_quotas():
    p = client(parent_ks()).partner.getInfo()
    eq((p.id, p.name), (PARENT_ID, PARENT_NAME), "id, name")
    eq(p.publishersQuota, 5, "publishersQuota")
    eq(p.adminLoginUsersQuota, 3, "adminLoginUsersQuota")
    eq(p.adminEmail, PARENT_ADMIN, "adminEmail")
    expect(p.adminSecret, "adminSecret missing")


@check
def partner_update_renames_the_current_partner():
    """partner.update has no id: a child is renamed with a KS impersonating it."""
    child = client(parent_ks()).partner.register(
        new_partner(f"Conformance py upd {RUN}", f"py-upd-{RUN}@conformance.example"))
    new_name = f"Conformance py renamed {RUN}"
    updated = client(impersonate(child.id)).partner.update(KalturaPartner(name=new_name, website="https://renamed.example"))
    eq((updated.id, updated.name), (child.id, new_name), "update result")
    back = client(parent_ks()).partner.get(child.id)
    eq((back.name, back.website), (new_name, "https://renamed.example"), "read back by the parent")
    eq(back.adminEmail, child.adminEmail, "untouched field")


@check
def partner_update_strips_tags_and_clears_a_null_field():
    """Every string is stripped of tags (PartnerService::updateAction); a None property is cleared."""
    child = registered()
    c = client(impersonate(child.id))
    updated = c.partner.update(KalturaPartner(description="<b>Bold</b> words<script>x</script>", website=None))
    eq(updated.description, "Bold wordsx", "description without tags")
    back = client(parent_ks()).partner.get(child.id)
    eq(back.description, "Bold wordsx", "read back by the parent")
    expect(not back.website, f"website was not cleared: {back.website!r}")
    c.partner.update(KalturaPartner(description="Multi-publishers console", website="https://conformance.example"))


@check
def partner_update_admin_user_id_must_name_a_publisher_administrator():
    c = client(impersonate(SHANGHAI))
    expect_error("INTERNAL_SERVERL_ERROR", c.partner.update, KalturaPartner(adminUserId=f"nobody-{RUN}"))
    expect_error("ACCOUNT_OWNER_NEEDS_PARTNER_ADMIN_ROLE", c.partner.update,
                 KalturaPartner(adminUserId="viewer@shanghai.techpubs.example"),
                 message="Account owner must have a partner administrator role")
    owner = client(parent_ks()).partner.get(SHANGHAI).adminUserId
    moved = c.partner.update(KalturaPartner(adminUserId="li.na@shanghai.techpubs.example"))
    eq((moved.adminUserId, moved.adminName, moved.adminEmail),
       ("li.na@shanghai.techpubs.example", "Li Na", "li.na@shanghai.techpubs.example"), "new owner")
    back = c.partner.update(KalturaPartner(adminUserId=owner))
    eq(back.adminUserId, owner, "owner restored")


# ---------------------------------------------------------------- users

@check
def user_list_under_an_impersonated_ks_lists_the_childs_active_admins():
    c = client(impersonate(SHANGHAI))
    listed = c.user.list(KalturaUserFilter(isAdminEqual=KalturaNullableBoolean.TRUE_VALUE, statusEqual=KalturaUserStatus.ACTIVE),
                         KalturaFilterPager(pageSize=100))
    found = {u.id: u for u in listed.objects}
    owner = client(parent_ks()).partner.get(SHANGHAI).adminUserId
    expect(owner in found and "li.na@shanghai.techpubs.example" in found, f"admins missing: {sorted(found)}")
    expect("viewer@shanghai.techpubs.example" not in found, "a user who is not an administrator is listed")
    eq(found[owner].isAccountOwner, True, "the owner is marked")
    eq(found["li.na@shanghai.techpubs.example"].isAccountOwner, False, "another admin is not the owner")
    eq(found["li.na@shanghai.techpubs.example"].fullName, "Li Na", "fullName")
    eq(listed.totalCount, len(listed.objects), "totalCount")
    everyone = c.user.list()
    expect("viewer@shanghai.techpubs.example" in [u.id for u in everyone.objects], "user.list without a filter")


@check
def user_list_of_a_registered_child_has_its_owner():
    child = registered()
    listed = client(impersonate(child.id)).user.list()
    eq([(u.id, u.isAccountOwner, u.isAdmin) for u in listed.objects], [(child.adminEmail, True, True)], "owner")


@check
def user_get_reads_a_user_and_refuses_an_unknown_one():
    c = client(impersonate(DOWN_UNDER))
    u = c.user.get("jack.byrne@downunder.techpubs.example")
    eq((u.id, u.partnerId, u.email, value(u.status)),
       ("jack.byrne@downunder.techpubs.example", DOWN_UNDER, "jack.byrne@downunder.techpubs.example", 1), "user")
    expect_error("INVALID_USER_ID", c.user.get, f"nobody-{RUN}", message="Invalid user id")


# ---------------------------------------------------------------- partner.register

@check
def partner_register_creates_a_child():
    p = registered()
    expect(isinstance(p.id, int) and p.id > 0, f"no id: {describe(p)}")
    eq(p.partnerParentId, PARENT_ID, "partnerParentId")
    eq(value(p.status), KalturaPartnerStatus.ACTIVE, "status")
    eq((p.name, p.adminEmail), (f"Conformance py {RUN}", f"py-{RUN}@conformance.example"), "name, adminEmail")
    for field in ("secret", "adminSecret", "cmsPassword"):
        expect(getattr(p, field), f"{field} missing")
    back = client(parent_ks()).partner.get(p.id)
    eq((back.name, back.referenceId), (p.name, f"conf-{RUN}"), "read back")


@check
def partner_register_without_template_uses_the_default():
    p = client(parent_ks()).partner.register(new_partner(f"Conformance py b {RUN}", f"py-b-{RUN}@conformance.example"))
    eq(p.partnerParentId, PARENT_ID, "partnerParentId")
    expect(p.id != registered().id, "same id twice")


@check
def partner_register_duplicate_admin_email_already_exists():
    email = "renee.dvir@downunder.techpubs.example"
    expect_error("PARTNER_REGISTRATION_ERROR", client(parent_ks()).partner.register,
                 new_partner("Dup seed", email),
                 message=f'Error while registering partner with message "User with email [{email}] already exists in system."')
    mine = registered().adminEmail
    expect_error("PARTNER_REGISTRATION_ERROR", client(parent_ks()).partner.register,
                 new_partner("Dup mine", mine), contains="already exists in system")


@check
def partner_register_invalid_email():
    expect_error("PARTNER_REGISTRATION_ERROR", client(parent_ks()).partner.register,
                 new_partner("Bad email", f"not-an-email-{RUN}"), contains="Invalid email address")


@check
def partner_register_with_a_template_that_is_not_a_child_fails():
    """registerAction's try wraps getParentPartnerInfo's error, which names the parent, not the template."""
    c = client(parent_ks())
    before = c.partner.count()
    text = f"Partner id [{PARENT_ID}] is not a VAR/GROUP, but is attempting to create child partner"
    expect_error("PARTNER_REGISTRATION_ERROR", c.partner.register,
                 new_partner("Bad template", f"py-tpl-{RUN}@conformance.example"), "", NORTHWIND,
                 message=f'Error while registering partner with message "{text}"')
    eq(c.partner.count(), before, "partner count after the failed register")


@check
def partner_register_without_a_mandatory_field_fails():
    """toPartner runs inside registerAction's try: its error comes back wrapped, without `KalturaPartner::`."""
    p = new_partner("No description", f"py-nodesc-{RUN}@conformance.example")
    p.description = NotImplemented
    e = expect_error("PARTNER_REGISTRATION_ERROR", client(parent_ks()).partner.register, p,
                     message='Error while registering partner with message "The property "description" cannot be null"')
    p = new_partner("Long country", f"py-country-{RUN}@conformance.example", country="USA")
    expect_error("PARTNER_REGISTRATION_ERROR", client(parent_ks()).partner.register, p,
                 contains='The property "country" cannot have more than 2 characters')


@check
def partner_register_without_the_partner_argument_is_missing_mandatory_parameter():
    # PartnerService.register demands `partner`; queue the call by hand, as the client's services do.
    c = client(parent_ks())
    params = KalturaParams()
    params.addStringIfDefined("cmsPassword", "")
    c.queueServiceActionCall("partner", "register", "KalturaPartner", params)
    expect_error("MISSING_MANDATORY_PARAMETER", c.doQueue, message='Missing parameter "partner"')


@check
def partner_register_from_a_non_var_partner_is_refused():
    text = f"Partner id [{SHANGHAI}] is not a VAR/GROUP, but is attempting to create child partner"
    expect_error("PARTNER_REGISTRATION_ERROR", client(child_ks()).partner.register,
                 new_partner("From child", f"py-child-{RUN}@conformance.example"),
                 message=f'Error while registering partner with message "{text}"')


# ---------------------------------------------------------------- varConsole

@check
def var_console_update_status_blocks_and_unblocks():
    c = client(parent_ks())
    try:
        eq(c.varConsole.varConsole.updateStatus(DOWN_UNDER, KalturaPartnerStatus.BLOCKED), None, "void result")
        eq(value(c.partner.get(DOWN_UNDER).status), KalturaPartnerStatus.BLOCKED, "status after block")
    finally:
        c.varConsole.varConsole.updateStatus(DOWN_UNDER, KalturaPartnerStatus.ACTIVE)
    eq(value(c.partner.get(DOWN_UNDER).status), KalturaPartnerStatus.ACTIVE, "status after unblock")


@check
def var_console_without_the_feature_is_feature_forbidden():
    expect_error("FEATURE_FORBIDDEN", client(child_ks()).varConsole.varConsole.updateStatus,
                 SHANGHAI, KalturaPartnerStatus.BLOCKED, message="The usage of feature [varConsole] is forbidden")
    eq(value(client(parent_ks()).partner.get(SHANGHAI).status), KalturaPartnerStatus.ACTIVE, "status unchanged")


@check
def var_console_unknown_partner():
    for pid in (NORTHWIND, 999999):
        expect_error("UNKNOWN_PARTNER_ID", client(parent_ks()).varConsole.varConsole.updateStatus,
                     pid, KalturaPartnerStatus.BLOCKED, message=f"Unknown partner_id [{pid}]")


# ---------------------------------------------------------------- multirequest

@check
def multirequest_with_a_result_reference():
    c = client(parent_ks())
    c.startMultiRequest()
    first = c.partner.get(SHANGHAI)
    c.partner.get(first.id)  # sent as "{1:result:id}"
    c.partner.count(KalturaPartnerFilter(idIn=SEED_ID_IN))
    results = c.doMultiRequest()
    eq(len(results), 3, "result count")
    eq([getattr(r, "id", r) for r in results[:2]], [SHANGHAI, SHANGHAI], "ids")
    eq(results[1].name, "Shanghai", "referenced result name")
    eq(str(results[2]), "6", "count in a multirequest")


@check
def multirequest_errors_are_per_item():
    c = client(parent_ks())
    c.startMultiRequest()
    c.partner.get(DOWN_UNDER)
    c.partner.get(999999)
    c.partner.getInfo()
    results = c.doMultiRequest()
    eq(len(results), 3, "result count")
    eq(getattr(results[0], "id", None), DOWN_UNDER, "item 1")
    expect(isinstance(results[1], KalturaException), f"item 2 not an error: {describe(results[1])}")
    eq((results[1].code, results[1].message), ("INVALID_PARTNER_ID", 'Invalid partner id "999999"'), "item 2")
    eq(getattr(results[2], "publishersQuota", None), 5, "item 3 publishersQuota")


# ---------------------------------------------------------------- user.loginByLoginId

@check
def user_login_by_login_id_returns_a_working_ks():
    ks = client().user.loginByLoginId(PARENT_ADMIN, PARENT_PASSWORD, PARENT_ID)
    expect(isinstance(ks, str) and len(ks) > 20, f"not a KS: {ks!r}")
    eq(client(ks).partner.getInfo().id, PARENT_ID, "getInfo id")


@check
def user_login_by_login_id_wrong_password():
    expect_error("USER_WRONG_PASSWORD", client().user.loginByLoginId, PARENT_ADMIN, "wrong-password", PARENT_ID,
                 message="Wrong password supplied")


# ---------------------------------------------------------------- reports (kaltura-analytics.md)

def report_args(interval=NotImplemented, **dates):
    dates = dates or dict(fromDate=REPORT_FROM, toDate=REPORT_TO)
    return (KalturaEndUserReportInputFilter(interval=interval, **dates), KalturaReportResponseOptions(delimiter="|"))


def table_rows(table):
    """Every row ends with ';'."""
    expect(table.data == "" or table.data.endswith(";"), f"rows do not end with ';': {table.data!r}")
    return [r.split("|") for r in table.data.split(";")[:-1]]


def get_table(report_type, pager=None, order=NotImplemented, ids=NotImplemented, interval=NotImplemented, **dates):
    flt, opts = report_args(interval, **dates)
    return client(parent_ks()).report.getTable(report_type, flt, pager or KalturaFilterPager(pageSize=500),
                                               order, ids, opts)


@check
def report_42_has_a_row_per_partner_in_the_servers_columns():
    table = get_table("42")
    eq(table.header.split("|"), PARTNER_COLUMNS + M42, "header")
    rows = table_rows(table)
    eq(sorted(int(r[2]) for r in rows), sorted([PARENT_ID, SHANGHAI, DOWN_UNDER, ADTEST, TEMPLATE_STD, TEMPLATE_LEGACY]),
       "the parent and every child, of any status")
    eq(table.totalCount, len(rows), "totalCount")
    shanghai = next(r for r in rows if r[2] == str(SHANGHAI))
    eq(shanghai[:4], ["1", "Shanghai", str(SHANGHAI), "1558444680"], "status, name, id, created_at")
    unique = [int(r[-1]) for r in rows]
    eq(unique, sorted(unique, reverse=True), "unique_known_users, most first")
    again = get_table("42")
    eq((again.header, again.data), (table.header, table.data), "second answer")


@check
def report_42_orders_by_a_metric_and_pages():
    c = [float(r[5]) for r in table_rows(get_table("42", order="-bandwidth_consumption"))]
    eq(c, sorted(c, reverse=True), "-bandwidth_consumption")
    first = get_table("42", KalturaFilterPager(pageSize=2, pageIndex=1), "+total_plays")
    second = get_table("42", KalturaFilterPager(pageSize=2, pageIndex=2), "+total_plays")
    plays = [int(r[4]) for r in table_rows(first) + table_rows(second)]
    eq(plays, sorted(plays), "+total_plays over two pages")
    eq((len(plays), first.totalCount), (4, 6), "page size and totalCount")
    names = [r[1] for r in table_rows(get_table("42", order="+partner_name"))]
    eq(names, sorted(names), "+partner_name (one page)")
    eq(len(table_rows(get_table("42", KalturaFilterPager(pageSize=0)))), 6, "a size of 0 is 10")


@check
def report_42_total_sums_the_rows():
    flt, opts = report_args()
    total = client(parent_ks()).report.getTotal("42", flt, NotImplemented, opts)
    eq(total.header.split("|"), M42, "header")
    values = dict(zip(M42, total.data.split("|")))
    rows = table_rows(get_table("42"))
    eq(int(values["total_plays"]), sum(int(r[4]) for r in rows), "total_plays")
    bandwidth = sum(float(r[5]) for r in rows)
    expect(abs(float(values["bandwidth_consumption"]) - bandwidth) < 1e-6 * bandwidth, f"bandwidth {values} vs {bandwidth}")


@check
def report_object_ids_keep_the_parent_and_its_children():
    eq([r[2] for r in table_rows(get_table("42", ids=f"{SHANGHAI}|{NORTHWIND}"))], [str(SHANGHAI)], "42 narrowed")
    none = get_table("42", ids=str(NORTHWIND))
    eq((none.data, none.totalCount), ("", 0), "42 with no partner left")
    eq(none.header.split("|"), PARTNER_COLUMNS + M42, "its header")
    var = get_table("19", ids=str(NORTHWIND))
    eq((var.header, var.data, var.totalCount), ("", "", None), "19 with no partner: no header")


@check
def report_headers_follow_the_interval():
    months = dict(fromDay="20240101", toDay="20240630")
    table = get_table("20021", interval=KalturaReportInterval.MONTHS, **months)
    eq(table.header.split("|"), ["month_id"] + G2, "20021 by month")
    eq([r[0] for r in table_rows(table)], ["202401", "202402", "202403", "202404", "202405", "202406"], "months")
    years = get_table("201", interval=KalturaReportInterval.YEARS, **months)
    eq(years.header.split("|"), G2, "201 by year drops year_id")
    eq(len(table_rows(years)[0]), len(G2), "and its value")
    var = get_table("19", interval=KalturaReportInterval.YEARS, ids=str(PARENT_ID), **months)
    eq(var.header.split("|")[:4], ["year_id", "status", "partner_name", "partner_id"], "19 by year drops created_at")
    days = get_table("201")
    eq([r[0] for r in table_rows(days)][::30], ["20240101", "20240131"], "zero-filled days")
    eq(days.totalCount, 31, "31 days")


@check
def report_graphs_share_their_keys():
    flt, opts = report_args(KalturaReportInterval.MONTHS, fromDay="20240101", toDay="20240331")
    graphs = client(parent_ks()).report.getGraphs("20021", flt, NotImplemented, NotImplemented, opts)
    eq([g.id for g in graphs], G2, "graph ids")
    keys = [[p.split("|")[0] for p in g.data.split(";")[:-1]] for g in graphs]
    eq(keys[0], ["202401", "202402", "202403"], "keys")
    expect(all(k == keys[0] for k in keys), f"keys differ: {keys}")
    drill = client(parent_ks()).report.getGraphs("20021", flt, NotImplemented, str(SHANGHAI), opts)
    expect(drill[0].data != graphs[0].data, "objectIds narrow the graphs")
    eq(client(parent_ks()).report.getGraphs("42", flt, NotImplemented, NotImplemented, opts), [], "42 has no graphs")


@check
def report_errors():
    c = client(parent_ks())
    flt, opts = report_args()
    expect_error("INVALID_ENUM_VALUE", c.report.getTotal, "300", flt,
                 message='Invalid enumeration value "300" for parameter "reportType", expecting enumeration type "KalturaReportType"')
    bad = KalturaReportInputFilter(fromDate=REPORT_FROM, toDate=REPORT_TO, interval="weeks")
    expect_error("INVALID_ENUM_VALUE", c.report.getTotal, "42", bad, contains='"KalturaReportInterval"')


@check
def var_console_partner_usage_sums_by_month():
    c = client(parent_ks())
    usage = c.varConsole.varConsole.getPartnerUsage(
        KalturaPartnerFilter(idIn=f"{SHANGHAI},{NORTHWIND}"),
        KalturaReportInputFilter(fromDate=REPORT_FROM, toDate=1719705600), KalturaFilterPager(pageSize=50))
    eq(usage.totalCount, 6, "six months of Shanghai")
    eq([(i.dateId, i.partnerId, i.partnerName) for i in usage.objects][:2],
       [("202401", SHANGHAI, "Shanghai"), ("202402", SHANGHAI, "Shanghai")], "items")
    first = usage.objects[0]
    expect(first.bandwidth > 0 and first.bandwidth == int(first.bandwidth), f"bandwidth in whole MB: {first.bandwidth}")
    eq((first.views, first.plays, first.partnerPackage), (None, None, None), "never filled")
    expect(usage.total.bandwidth > 0, f"total: {describe(usage.total)}")
    expect_error("FEATURE_FORBIDDEN", client(child_ks()).varConsole.varConsole.getPartnerUsage,
                 message="The usage of feature [varConsole] is forbidden")


@check
def permission_list_grants_multi_account_analytics():
    c = client(parent_ks())
    listed = c.permission.list(KalturaPermissionFilter(nameEqual="FEATURE_MULTI_ACCOUNT_ANALYTICS", statusEqual=1))
    eq(listed.totalCount, 1, "totalCount")
    p = listed.objects[0]
    eq((p.name, value(p.type), value(p.status), p.partnerId), ("FEATURE_MULTI_ACCOUNT_ANALYTICS", 2, 1, PARENT_ID),
       "name, type, status, partnerId")
    child = client(child_ks()).permission.list(KalturaPermissionFilter(nameIn="FEATURE_MULTI_ACCOUNT_ANALYTICS"))
    eq(child.totalCount, 0, "a child without the feature")


# ---------------------------------------------------------------- system

@check
def system_ping():
    eq(client().system.ping(), True, "ping")


# ---------------------------------------------------------------- runner

def main():
    passed = failed = 0
    for fn in CHECKS:
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - every failure is reported, never raised
            failed += 1
            detail = f"{type(e).__name__}: {e}" if not isinstance(e, AssertionError) else str(e)
            if not isinstance(e, (AssertionError, KalturaException)):
                here = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == __file__]
                detail += f" (at line {here[-1].lineno})" if here else ""
            print(f"FAIL {fn.__name__}: {detail}", flush=True)
        else:
            passed += 1
            print(f"ok {fn.__name__}", flush=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
