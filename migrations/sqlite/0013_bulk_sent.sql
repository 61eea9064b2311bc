-- Set just before an account's status change is sent: an account found already changed when its job resumes was
-- changed by that send, whose answer was not recorded (the process stopped), rather than skipped.
ALTER TABLE bulk_items ADD COLUMN sent INTEGER NOT NULL DEFAULT 0;
