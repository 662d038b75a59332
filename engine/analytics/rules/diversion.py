"""diversion (窜货): a code scanned outside the region it was last shipped or received to.

The intended market of a code is the destination_region of its latest shipping/receiving
event; a later scan whose region differs at the chosen level (digits: 2 = province,
4 = city, 6 = county) is out of market. Scans without a region are not judged. One alert
per code."""

NAME = "diversion"
SEVERITY = "medium"
WINDOW = "all"
PARAMS = {"digits": 2, "steps": ("shipping", "receiving")}
RANGES = {"digits": {2, 4, 6}}   # province, city, county

SQL = """WITH dest AS (
  SELECT code, destination_region AS dest, time AS shipped,
         ROW_NUMBER() OVER (PARTITION BY code ORDER BY time DESC, seq DESC) AS rn
  FROM events WHERE destination_region IS NOT NULL AND biz_step IN (:steps)
),
latest AS (SELECT code, dest, shipped FROM dest WHERE rn = 1),
outside AS (
  SELECT s.code, s.product, s.region, s.time, l.dest
  FROM scans s JOIN latest l ON s.code = l.code
  WHERE s.region IS NOT NULL AND s.time > l.shipped
    AND substr(s.region, 1, :digits) <> substr(l.dest, 1, :digits)
)
SELECT code AS subject, max(product) AS product, min(region) AS region,
       min(EPOCH_US(time)) AS first_us, max(EPOCH_US(time)) AS last_us, 0 AS win,
       max(dest) AS ev_shipped_to, count(*) AS ev_scans, count(DISTINCT region) AS ev_regions
FROM outside GROUP BY code"""
