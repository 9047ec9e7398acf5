// Roles as the UI offers them. The server decides what each may do; the UI
// only needs their order, to offer no role the caller may not grant.

/** The built-in roles, from least to most powerful. */
export const roles = ["viewer", "operator", "developer", "admin", "owner"] as const;

/** A built-in role's name. */
export type Role = (typeof roles)[number];

/** Returns the roles a caller holding role may give to a key: those at or
 * below its own, least powerful first. An unknown role grants none. */
export function grantableRoles(role: string | undefined): Role[] {
  const rank = roles.indexOf(role as Role);
  return rank < 0 ? [] : roles.slice(0, rank + 1);
}

const namePattern = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Returns what is wrong with a resource name (a key's or a policy's), or ""
 * when the server will accept it: 1 to 63 lower-case letters, digits and
 * '-', starting with a letter and not ending with '-'. */
export function nameProblem(name: string): string {
  if (name === "") return "Enter a name.";
  if (name.length > 63) return "At most 63 characters.";
  if (!/^[a-z]/.test(name)) return "Start with a lower-case letter.";
  if (name.endsWith("-")) return "Do not end with '-'.";
  if (!namePattern.test(name)) return "Use only lower-case letters, digits and '-'.";
  return "";
}
