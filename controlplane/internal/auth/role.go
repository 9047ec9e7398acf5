package auth

import "fmt"

// Role is a built-in role a membership or API key carries. What each role
// may do is decided by the authorization policy; this package only knows
// their order, for the rule that nobody grants more than they hold.
type Role string

// The built-in roles, from most to least powerful.
const (
	RoleOwner     Role = "owner"
	RoleAdmin     Role = "admin"
	RoleDeveloper Role = "developer"
	RoleOperator  Role = "operator"
	RoleViewer    Role = "viewer"
)

// roleRank orders the roles: a higher rank holds every permission of a
// lower one.
var roleRank = map[Role]int{
	RoleViewer:    1,
	RoleOperator:  2,
	RoleDeveloper: 3,
	RoleAdmin:     4,
	RoleOwner:     5,
}

// ParseRole returns the role named s, or an error naming the valid roles.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if _, ok := roleRank[r]; !ok {
		return "", fmt.Errorf("unknown role %q: want owner, admin, developer, operator or viewer", s)
	}
	return r, nil
}

// CanGrant reports whether a caller holding r may give role other to a key,
// a member or a service account: only roles at or below its own. An unknown
// role grants nothing.
func (r Role) CanGrant(other Role) bool {
	have, ok := roleRank[r]
	want, ok2 := roleRank[other]
	return ok && ok2 && want <= have
}
