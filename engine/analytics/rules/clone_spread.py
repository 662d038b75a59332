"""clone_spread: one code scanned on more devices or in more regions than its packaging
level allows — copies of one label in circulation.

A unit (a code no other code names as parent) may be scanned by at most unit_scanners
distinct scanners and in unit_regions distinct regions; an aggregate (a case or pallet:
some code's parent) by aggregate_scanners / aggregate_regions. One alert per code."""

NAME = "clone_spread"
SEVERITY = "high"
WINDOW = "all"
PARAMS = {"unit_scanners": 4, "unit_regions": 2, "aggregate_scanners": 12,
          "aggregate_regions": 4}
# what each parameter may be (dialect.parse_params): (lowest, highest) or a set of choices
RANGES = {"unit_scanners": (1, 1_000_000), "unit_regions": (1, 100_000),
          "aggregate_scanners": (1, 1_000_000), "aggregate_regions": (1, 100_000)}

# Counting distinct scanners and regions of every code is the costly part (a distinct
# aggregate over all scans). A code whose scans all share one scanner and one region
# (min = max) has at most one of each, and one with fewer scans than the lowest limit
# cannot pass it: only the rest (candidates, few) are counted exactly.
SQL = """WITH parents AS (
  SELECT DISTINCT parent AS code FROM codes WHERE parent IS NOT NULL
),
per AS (
  SELECT code, max(product) AS product, min(region) AS region,
         min(EPOCH_US(time)) AS first_us, max(EPOCH_US(time)) AS last_us
  FROM scans WHERE code IS NOT NULL AND verdict <> 'UNKNOWN' GROUP BY code
  HAVING (min(scanner) <> max(scanner)
          AND count(scanner) > least(:unit_scanners, :aggregate_scanners))
      OR (min(region) <> max(region)
          AND count(region) > least(:unit_regions, :aggregate_regions))
),
counted AS (   -- scans read again rather than shared: a shared CTE is materialised whole
  SELECT s.code, count(DISTINCT s.scanner) AS n_scanners, count(DISTINCT s.region) AS n_regions
  FROM scans s JOIN per ON per.code = s.code
  WHERE s.verdict <> 'UNKNOWN' GROUP BY s.code
)
SELECT per.code AS subject, per.product, per.region, per.first_us, per.last_us, 0 AS win,
       c.n_scanners AS ev_scanners, c.n_regions AS ev_regions,
       CASE WHEN p.code IS NULL THEN 'unit' ELSE 'aggregate' END AS ev_level
FROM per JOIN counted c ON c.code = per.code LEFT JOIN parents p ON p.code = per.code
WHERE (p.code IS NULL AND (c.n_scanners > :unit_scanners OR c.n_regions > :unit_regions))
   OR (p.code IS NOT NULL AND (c.n_scanners > :aggregate_scanners
                               OR c.n_regions > :aggregate_regions))"""
