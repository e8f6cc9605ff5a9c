-- Rename and cast only: raw.users with age as an integer.
CREATE OR REPLACE VIEW staging.stg_users AS
SELECT
    load_id,
    source_file,
    source_line,
    trim(user_id)                   AS user_id,
    TRY_CAST(trim(age) AS INTEGER)  AS age,
    nullif(trim(gender), '')        AS gender,
    nullif(trim(occupation), '')    AS occupation,
    nullif(trim(zip_code), '')      AS zip_code
FROM raw.users;
