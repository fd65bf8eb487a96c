package main

import (
	"strings"
	"testing"
)

// The email settings are checked together at start: what needs mail needs MAIL_DOMAIN, mail
// needs PUBLIC_URL, SMTP_URL needs MAIL_FROM; an error never repeats SMTP_URL's password.
func TestEmailConfig(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	cfg, err := configFromEnv(env(nil))
	if err != nil || cfg.emailOn() || cfg.MaxEmailMB != 25 {
		t.Fatalf("without email settings: on %v, MAX_EMAIL_MB %d, %v", cfg.emailOn(), cfg.MaxEmailMB, err)
	}
	ok := map[string]string{"MAIL_DOMAIN": "Help.Example.com", "PUBLIC_URL": "https://help.example.com",
		"SMTP_URL": "smtp://user:s3cret@smtp.example.com:587", "MAIL_FROM": "Support <support@example.com>",
		"INBOUND_SMTP_ADDR": ":2525", "MAX_EMAIL_MB": "10"}
	cfg, err = configFromEnv(env(ok))
	if err != nil || !cfg.emailOn() || cfg.MailDomain != "help.example.com" || cfg.MaxEmailMB != 10 || cfg.InboundSMTPAddr != ":2525" {
		t.Fatalf("a full email configuration: %+v, %v", cfg, err)
	}
	with := func(kv map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range ok {
			out[k] = v
		}
		for k, v := range kv {
			out[k] = v
		}
		return out
	}
	// Receiving only, or organizations' own servers only: no SMTP_URL, no MAIL_FROM.
	if _, err := configFromEnv(env(with(map[string]string{"SMTP_URL": "", "MAIL_FROM": ""}))); err != nil {
		t.Errorf("email without a server SMTP: %v", err)
	}
	for name, kv := range map[string]map[string]string{
		"SMTP_URL without MAIL_DOMAIN":          with(map[string]string{"MAIL_DOMAIN": ""}),
		"INBOUND_SMTP_ADDR without MAIL_DOMAIN": {"INBOUND_SMTP_ADDR": ":25", "PUBLIC_URL": "https://x.example"},
		"MAIL_DOMAIN without PUBLIC_URL":        with(map[string]string{"PUBLIC_URL": ""}),
		"SMTP_URL without MAIL_FROM":            with(map[string]string{"MAIL_FROM": ""}),
		"bad SMTP_URL":                          with(map[string]string{"SMTP_URL": "http://user:s3cret@smtp.example.com"}),
		"bad SMTP_URL port":                     with(map[string]string{"SMTP_URL": "smtp://user:s3cret@smtp.example.com:99999"}),
		"bad MAIL_FROM":                         with(map[string]string{"MAIL_FROM": "support"}),
		"bad MAIL_DOMAIN":                       with(map[string]string{"MAIL_DOMAIN": "not a domain"}),
		"bad INBOUND_SMTP_ADDR":                 with(map[string]string{"INBOUND_SMTP_ADDR": "2525"}),
		"bad MAX_EMAIL_MB":                      with(map[string]string{"MAX_EMAIL_MB": "0"}),
		"huge MAX_EMAIL_MB":                     with(map[string]string{"MAX_EMAIL_MB": "100000"}),
	} {
		_, err := configFromEnv(env(kv))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows the password: %v", name, err)
		}
	}
}
