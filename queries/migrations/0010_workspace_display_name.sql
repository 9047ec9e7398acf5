-- Workspaces created through WorkspaceService carry a name people read
-- beside their unique name. Existing workspaces take their name.
ALTER TABLE workspaces ADD COLUMN display_name text NOT NULL DEFAULT ''
    CHECK (length(display_name) <= 200);
UPDATE workspaces SET display_name = name;
