-- Every rejected row of this load, with the row as read and the reason.
INSERT INTO quarantine.rejected_rows (load_id, source, source_file, source_line, entity, record, reason)
SELECT load_id, $source, source_file, source_line, 'item',
       concat_ws(' | ', item_id, title, release_year, genres), reason
FROM _items WHERE reason IS NOT NULL AND $count_items
UNION ALL
SELECT load_id, $source, source_file, source_line, 'user',
       concat_ws(' | ', user_id, age, gender, occupation, zip_code), reason
FROM _users WHERE reason IS NOT NULL AND $count_users
UNION ALL
SELECT load_id, $source, source_file, source_line, 'interaction',
       concat_ws(' | ', user_id, item_id, rating_text, event, ts_text, tag), reason
FROM _interactions WHERE reason IS NOT NULL;
