-- name: WorkspaceInsert :one
-- WorkspaceInsert creates a workspace unless the name is taken (the first
-- start's default workspace); its display name is its name.
INSERT INTO workspaces (id, name, display_name, create_time)
VALUES (@id, @name, @name, @now)
ON CONFLICT (name) DO NOTHING
RETURNING *;

-- name: WorkspaceGetByName :one
SELECT * FROM workspaces WHERE name = @name;

-- name: WorkspaceGet :one
SELECT * FROM workspaces WHERE id = @id;

-- name: WorkspaceCreate :one
-- WorkspaceCreate inserts a workspace; a taken name fails with a unique
-- violation, which the caller reports as AlreadyExists.
INSERT INTO workspaces (id, name, display_name, create_time)
VALUES (@id, @name, @display_name, @now)
RETURNING *;
