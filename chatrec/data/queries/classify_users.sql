-- Validate this load's users: a reason for each rejected row, NULL for valid ones.
-- change: 'same' when every attribute the row carries (non-NULL) already holds that value.
CREATE OR REPLACE TEMP TABLE _users AS
SELECT
    s.*,
    CASE
        WHEN s.user_id IS NULL OR s.user_id = '' THEN 'missing user id'
        WHEN regexp_matches(s.user_id, '[[:cntrl:]]') THEN 'control character in user id'
        WHEN r.age IS NOT NULL AND trim(r.age) <> '' AND s.age IS NULL THEN 'unparseable age: ' || r.age
        WHEN s.age IS NOT NULL AND (s.age < 0 OR s.age > 130) THEN 'age out of range [0, 130]: ' || r.age
        WHEN row_number() OVER (PARTITION BY s.user_id ORDER BY s.source_file, s.source_line) > 1
            THEN 'duplicate user id in this load'
    END AS reason,
    CASE
        WHEN c.user_id IS NULL THEN 'new'
        WHEN (s.age IS NULL OR c.age IS NOT DISTINCT FROM s.age)
         AND (s.gender IS NULL OR c.gender IS NOT DISTINCT FROM s.gender)
         AND (s.occupation IS NULL OR c.occupation IS NOT DISTINCT FROM s.occupation)
         AND (s.zip_code IS NULL OR c.zip_code IS NOT DISTINCT FROM s.zip_code) THEN 'same'
        ELSE 'changed'
    END AS change
FROM staging.stg_users s
JOIN raw.users r
  ON r.load_id = s.load_id AND r.source_file = s.source_file AND r.source_line = s.source_line
LEFT JOIN core.users c ON c.user_id = s.user_id
WHERE s.load_id = $load_id;
