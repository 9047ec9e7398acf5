-- name: WorkspaceInsert :one
INSERT INTO workspaces (id, name, create_time)
VALUES (@id, @name, @now)
ON CONFLICT (name) DO NOTHING
RETURNING *;

-- name: WorkspaceGetByName :one
SELECT * FROM workspaces WHERE name = @name;

-- name: WorkspaceGet :one
SELECT * FROM workspaces WHERE id = @id;
