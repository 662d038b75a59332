"""probing: bursts of unknown (never issued, guessed) codes from one scanner, client or
region — counterfeiters testing numbers, the public window enumerated.

Fixed windows of window_minutes (UTC, from 1970): a subject (scanner:X, client:X,
region:NNNNNN) with at least min_unknown UNKNOWN verdicts making at least min_ratio of its
scans in that window. The alert's window is the window's start (epoch microseconds); a
burst across a window edge counts in two halves. One alert per subject and window."""

NAME = "probing"
SEVERITY = "medium"
WINDOW = "column_us"
PARAMS = {"window_minutes": 60, "min_unknown": 20, "min_ratio": 0.5}
RANGES = {"window_minutes": (1, 10_080), "min_unknown": (1, 1_000_000_000),   # a week at most
          "min_ratio": (0.0, 1.0)}

SQL = """WITH u AS (
  SELECT scanner, client, region, time, verdict,
         CAST(floor(EPOCH_US(time) / (:window_minutes * 6.0E7)) AS BIGINT) AS bucket
  FROM scans
),
by_subject AS (
  SELECT concat('scanner:', scanner) AS subject, bucket, verdict, time, region FROM u
   WHERE scanner IS NOT NULL
  UNION ALL
  SELECT concat('client:', client) AS subject, bucket, verdict, time, region FROM u
   WHERE client IS NOT NULL
  UNION ALL
  SELECT concat('region:', region) AS subject, bucket, verdict, time, region FROM u
   WHERE region IS NOT NULL
)
SELECT subject, CAST(NULL AS STRING) AS product, min(region) AS region,
       min(EPOCH_US(time)) AS first_us, max(EPOCH_US(time)) AS last_us,
       bucket * :window_minutes * 60000000 AS win,
       sum(CASE WHEN verdict = 'UNKNOWN' THEN 1 ELSE 0 END) AS ev_unknown, count(*) AS ev_scans
FROM by_subject GROUP BY subject, bucket
HAVING sum(CASE WHEN verdict = 'UNKNOWN' THEN 1 ELSE 0 END) >= :min_unknown
   AND sum(CASE WHEN verdict = 'UNKNOWN' THEN 1 ELSE 0 END) >= :min_ratio * count(*)"""
