-- Single sign-on: the provider's identifier of the person a user is (`{issuer} {sub}`), set at their first sign-in
-- through the provider; later sign-ins find them by it, whatever their email has become.
ALTER TABLE users ADD COLUMN oidc_subject TEXT;
CREATE UNIQUE INDEX users_oidc_subject ON users (oidc_subject) WHERE oidc_subject IS NOT NULL;

-- People removed from the console by an administrator: the provider's role claim does not bring them back (an
-- administrator adding them again does).
CREATE TABLE oidc_removed (
    subject TEXT PRIMARY KEY
);
