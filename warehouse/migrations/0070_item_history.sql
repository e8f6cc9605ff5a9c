-- Loads only add or correct: every item attribute a load sets, changes or declines to change is
-- kept here with the value before, so a load can be undone (chatrec.data.history.undo_load).
-- raw.loads.notes states how a load read its values (timestamp units, rating scale).
CREATE TABLE IF NOT EXISTS core.item_history (
    load_id     VARCHAR NOT NULL,
    item_id     VARCHAR NOT NULL,
    attribute   VARCHAR NOT NULL,
    old_value   VARCHAR,
    new_value   VARCHAR,
    outcome     VARCHAR NOT NULL,
    recorded_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);

COMMENT ON TABLE core.item_history IS
    'Every item attribute change a load made or declined (conflicts), with the value before: the undo log of core.items.';
COMMENT ON COLUMN core.item_history.load_id IS
    'The load (raw.loads.load_id) that brought the value; undo-of-<load_id> for the rows an undo wrote.';
COMMENT ON COLUMN core.item_history.item_id IS 'The item (core.items.item_id) whose attribute this is.';
COMMENT ON COLUMN core.item_history.attribute IS 'title | release_year | genres | description.';
COMMENT ON COLUMN core.item_history.old_value IS
    'The value before this load as text (genres joined with |); NULL when the item or attribute was new.';
COMMENT ON COLUMN core.item_history.new_value IS 'The value the load brought, as text; a load never brings NULL here.';
COMMENT ON COLUMN core.item_history.outcome IS
    'applied: core.items now holds new_value; kept_existing: a conflicting value from an interactions file, '
    'recorded but not applied because catalogue values are only corrected by catalogue loads.';
COMMENT ON COLUMN core.item_history.recorded_at IS 'When the row was written (UTC).';

ALTER TABLE raw.loads ADD COLUMN notes VARCHAR;
COMMENT ON COLUMN raw.loads.notes IS
    'How the load read its values: the timestamp unit detected per file and the rating scale (declared or inferred).';
