-- Look-alike names (issue 18). A username is unique by its UTS #39 confusable skeleton
-- (`Username::skeleton`: `аdmin` with a Cyrillic `а` is `admin`), which SQL cannot compute:
-- the server fills the column in at start for the rows this leaves NULL, together with the
-- NFKC forms of existing usernames and emails (`store::users::renormalise_names`).
ALTER TABLE users ADD COLUMN username_skeleton TEXT;
CREATE UNIQUE INDEX users_username_skeleton ON users (username_skeleton);

-- The rule a row's names were last normalised by: 0 for rows from before this migration and
-- for those whose normalised names another account already holds (tried again at each start);
-- `store::users::NAMES_RULE` once done. A future change of the rule raises that constant.
ALTER TABLE users ADD COLUMN names_rule BIGINT NOT NULL DEFAULT 0;
CREATE INDEX users_names_rule ON users (names_rule);
