-- Users, memberships, sessions and failed logins (migration 0003).

-- name: UserInsert :one
INSERT INTO users (id, kind, email, display_name, password_hash, workspace_id, create_time, update_time)
VALUES (@id, @kind, sqlc.narg(email), @display_name, sqlc.narg(password_hash), sqlc.narg(workspace_id), @now, @now)
RETURNING *;

-- name: UserGetByEmail :one
SELECT * FROM users WHERE email = @email AND kind = 'human';

-- name: UserGet :one
SELECT * FROM users WHERE id = @id;

-- name: UserGetServiceAccount :one
SELECT * FROM users WHERE workspace_id = @workspace_id AND display_name = @name AND kind = 'service';

-- name: UserSetPasswordHash :exec
UPDATE users SET password_hash = @password_hash, update_time = @now WHERE id = @id AND kind = 'human';

-- name: MembershipUpsert :one
INSERT INTO memberships (user_id, workspace_id, role, create_time, update_time)
VALUES (@user_id, @workspace_id, @role, @now, @now)
ON CONFLICT (user_id, workspace_id) DO UPDATE SET role = excluded.role, update_time = excluded.update_time
RETURNING *;

-- name: MembershipGet :one
SELECT * FROM memberships WHERE user_id = @user_id AND workspace_id = @workspace_id;

-- name: MembershipDelete :execrows
DELETE FROM memberships WHERE user_id = @user_id AND workspace_id = @workspace_id;

-- name: MembershipListByUser :many
SELECT * FROM memberships WHERE user_id = @user_id ORDER BY create_time, workspace_id;

-- name: MembershipListByWorkspace :many
-- MembershipListByWorkspace lists the members of a workspace, people
-- first, then service accounts, each by email or name.
SELECT u.id, u.kind, u.email, u.display_name, u.create_time, m.role
FROM memberships m JOIN users u ON u.id = m.user_id
WHERE m.workspace_id = @workspace_id
ORDER BY u.kind, coalesce(u.email, u.display_name), u.id;

-- name: SessionInsert :one
INSERT INTO sessions (id, user_id, workspace_id, prefix, secret_hash, source_addr,
                      create_time, last_use_time, expire_time)
VALUES (@id, @user_id, @workspace_id, @prefix, @secret_hash, @source_addr, @now, @now, @expire_time)
RETURNING *;

-- name: SessionGetByPrefix :one
-- SessionGetByPrefix returns a session with its user's current role in the
-- session's workspace; role is NULL once the membership is gone.
SELECT s.id, s.user_id, s.workspace_id, s.prefix, s.secret_hash, s.last_use_time, s.expire_time,
       s.revoke_time, u.email, m.role AS role
FROM sessions s
JOIN users u ON u.id = s.user_id
LEFT JOIN memberships m ON m.user_id = s.user_id AND m.workspace_id = s.workspace_id
WHERE s.prefix = @prefix;

-- name: SessionTouch :exec
UPDATE sessions SET last_use_time = @now::timestamptz
WHERE id = @id AND last_use_time < @stale_before::timestamptz;

-- name: SessionRevoke :execrows
UPDATE sessions SET revoke_time = @now::timestamptz
WHERE id = @id AND revoke_time IS NULL;

-- name: SessionRevokeByUser :execrows
-- SessionRevokeByUser ends every session of a user in one workspace, as
-- when the user leaves it.
UPDATE sessions SET revoke_time = @now::timestamptz
WHERE user_id = @user_id AND workspace_id = @workspace_id AND revoke_time IS NULL;

-- name: LoginFailureInsert :exec
INSERT INTO login_failures (account_key, fail_time) VALUES (@account_key, @now);

-- name: LoginFailureCount :one
-- LoginFailureCount counts the failures of one account since a time; it
-- relies on login_failures_account_idx.
SELECT count(*) FROM login_failures WHERE account_key = @account_key AND fail_time >= @since::timestamptz;

-- name: LoginFailureClear :exec
DELETE FROM login_failures WHERE account_key = @account_key;

-- name: LoginFailurePrune :execrows
DELETE FROM login_failures WHERE fail_time < @before::timestamptz;

-- name: MembershipListWorkspacesByUser :many
-- MembershipListWorkspacesByUser lists the workspaces a user is a member
-- of, with the user's role, by workspace name; the memberships primary key
-- (user_id, workspace_id) finds the rows.
SELECT w.id, w.name, w.display_name, w.create_time, m.role
FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
WHERE m.user_id = @user_id
ORDER BY w.name;
