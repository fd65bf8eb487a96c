package handlers

// Hand-written forms of the route parameter checks that every request of a tenant route makes
// (a regexp match costs more than the rest of an idle poll's routing); fastcheck_test.go
// proves them equal to the regular expressions they replace.

// isUsername reports whether s matches usernameRE, ^[a-z0-9]{3,30}$.
func isUsername(s string) bool {
	if len(s) < 3 || len(s) > 30 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// isToken reports whether s matches tokenRE, ^[A-Za-z0-9_-]{43}$.
func isToken(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
