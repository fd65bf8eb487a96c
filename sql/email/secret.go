package email

import "log/slog"

// Secret is a password: it prints, logs and marshals as "***" so that it cannot leak through
// a log line, an error or a template by accident. Reveal gives the value to the SMTP or IMAP
// client.
type Secret string

// String hides the secret.
func (Secret) String() string { return "***" }

// GoString hides the secret from %#v.
func (Secret) GoString() string { return `"***"` }

// LogValue hides the secret from log/slog.
func (Secret) LogValue() slog.Value { return slog.StringValue("***") }

// MarshalText hides the secret from encoders.
func (Secret) MarshalText() ([]byte, error) { return []byte("***"), nil }

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }
