-- The Accounts page size each user last chose (25, 50, 75 or 100); NULL means the default of 50.
ALTER TABLE users ADD COLUMN accounts_page_size INTEGER;
