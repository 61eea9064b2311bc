"""Prints report 42 (a row per partner) for REPORT_FROM..REPORT_TO as the official Python client reads it:
`partner_id,total_plays,total_views,total_entries,unique_known_users,average_storage,peak_storage,
bandwidth_consumption,transcoding_consumption` per line, for the console's tests to compare with its own figures."""

import os

from KalturaClient import KalturaClient, KalturaConfiguration
from KalturaClient.Plugins.Core import (
    KalturaFilterPager,
    KalturaReportInputFilter,
    KalturaReportResponseOptions,
    KalturaSessionType,
)

COLUMNS = ["total_plays", "total_views", "total_entries", "unique_known_users", "average_storage", "peak_storage",
           "bandwidth_consumption", "transcoding_consumption"]

client = KalturaClient(KalturaConfiguration(serviceUrl=os.environ["KALTURA_SERVICE_URL"]))
partner_id = int(os.environ["KALTURA_PARTNER_ID"])
client.setKs(client.session.start(os.environ["KALTURA_ADMIN_SECRET"], "", KalturaSessionType.ADMIN, partner_id))
report_filter = KalturaReportInputFilter(fromDate=int(os.environ["REPORT_FROM"]), toDate=int(os.environ["REPORT_TO"]))
table = client.report.getTable("42", report_filter, KalturaFilterPager(pageSize=500, pageIndex=1),
                               responseOptions=KalturaReportResponseOptions(delimiter="|"))
header = table.header.split("|")
for row in filter(None, (table.data or "").split(";")):
    cells = dict(zip(header, row.split("|")))
    print(",".join([cells["partner_id"]] + [cells[c] for c in COLUMNS]))
