package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/handlers"
	"github.com/tenantdesk/tenantdesk/handlers/email/smtpin"
	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/email"
	"github.com/tenantdesk/tenantdesk/sql/email/smtpout"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// readEmail reads the email settings: SMTP_URL, MAIL_FROM, MAIL_DOMAIN, INBOUND_SMTP_ADDR and
// MAX_EMAIL_MB (default 25).
func (c *Config) readEmail(getenv func(string) string) error {
	c.SMTPURL = strings.TrimSpace(getenv("SMTP_URL"))
	c.MailFrom = strings.TrimSpace(getenv("MAIL_FROM"))
	c.MailDomain = strings.ToLower(strings.TrimSpace(getenv("MAIL_DOMAIN")))
	c.InboundSMTPAddr = strings.TrimSpace(getenv("INBOUND_SMTP_ADDR"))
	c.MaxEmailMB = 25
	if v := getenv("MAX_EMAIL_MB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1024 {
			return fmt.Errorf("MAX_EMAIL_MB must be a whole number of megabytes from 1 to 1024, got %q", v)
		}
		c.MaxEmailMB = n
	}
	return nil
}

// emailOn reports whether the configuration turns the email channel on: MAIL_DOMAIN is set.
func (c Config) emailOn() bool { return c.MailDomain != "" }

// validateEmail checks the email settings together: whatever needs mail needs MAIL_DOMAIN,
// and mail needs PUBLIC_URL for its links. The errors never repeat SMTP_URL (its password).
func (c Config) validateEmail() error {
	if !c.emailOn() {
		switch {
		case c.SMTPURL != "":
			return errors.New("SMTP_URL is set but MAIL_DOMAIN is not: set MAIL_DOMAIN, the domain of the Message-IDs " +
				"and reply addresses (e.g. help.example.com)")
		case c.InboundSMTPAddr != "":
			return errors.New("INBOUND_SMTP_ADDR is set but MAIL_DOMAIN is not: set MAIL_DOMAIN, the domain the receiver takes mail for")
		case c.MailFrom != "":
			return errors.New("MAIL_FROM is set but MAIL_DOMAIN is not: set MAIL_DOMAIN (and SMTP_URL) to send email")
		}
		return nil
	}
	if err := email.ValidDomain(c.MailDomain); err != nil {
		return fmt.Errorf("MAIL_DOMAIN %q must be a domain name such as help.example.com", c.MailDomain)
	}
	if c.PublicURL == "" {
		return errors.New("email is on (MAIL_DOMAIN is set): PUBLIC_URL is required, the base of the links emails carry " +
			"(e.g. https://help.example.com)")
	}
	if c.SMTPURL != "" {
		if _, err := smtpout.ParseURL(c.SMTPURL); err != nil {
			return fmt.Errorf("SMTP_URL: %w", err)
		}
		if c.MailFrom == "" {
			return errors.New("SMTP_URL is set: MAIL_FROM is required, the sender of the server's mail (e.g. Support <support@example.com>)")
		}
	}
	if c.MailFrom != "" {
		if _, err := email.ParseAddress(c.MailFrom); err != nil {
			return fmt.Errorf("MAIL_FROM %q must be an address such as Support <support@example.com>", c.MailFrom)
		}
	}
	if c.InboundSMTPAddr != "" {
		if _, port, err := net.SplitHostPort(c.InboundSMTPAddr); err != nil || port == "" {
			return fmt.Errorf("INBOUND_SMTP_ADDR %q must be host:port, e.g. :2525", c.InboundSMTPAddr)
		}
	}
	return nil
}

// enableEmail turns the desk's email channel on when the configuration asks for it.
func enableEmail(cfg Config, d *desk.Service, secret []byte, log *slog.Logger) error {
	if !cfg.emailOn() {
		return nil
	}
	key, err := tenantdb.CredentialKey(secret)
	if err != nil {
		return err
	}
	sealer, err := tenantdb.NewSealer(key)
	if err != nil {
		return err
	}
	mc := desk.MailConfig{Domain: cfg.MailDomain, PublicURL: cfg.PublicURL, Inbound: cfg.InboundSMTPAddr != "",
		Secret: secret, Sealer: sealer, MaxEmailBytes: int64(cfg.MaxEmailMB) << 20}
	if cfg.MailFrom != "" {
		if mc.From, err = email.ParseAddress(cfg.MailFrom); err != nil {
			return err
		}
	}
	if cfg.SMTPURL != "" {
		sc, err := smtpout.ParseURL(cfg.SMTPURL)
		if err != nil {
			return fmt.Errorf("SMTP_URL: %w", err)
		}
		mc.SMTP = &sc
	}
	if err := d.EnableMail(mc); err != nil {
		return err
	}
	log.Info("email on", "mail_domain", cfg.MailDomain, "smtp", smtpLog(mc.SMTP), "inbound", cfg.InboundSMTPAddr)
	return nil
}

func smtpLog(c *smtpout.Config) string {
	if c == nil {
		return "(organizations' own)"
	}
	return c.String()
}

// startInbound starts the built-in SMTP receiver on INBOUND_SMTP_ADDR (off when empty);
// stop closes it, abandoning sessions under way (their senders retry).
func startInbound(cfg Config, a *App, log *slog.Logger) (stop func(), err error) {
	if cfg.InboundSMTPAddr == "" {
		return func() {}, nil
	}
	srv, err := smtpin.New(smtpin.Config{Domain: cfg.MailDomain, MaxMessageBytes: int64(cfg.MaxEmailMB) << 20, Logger: log},
		handlers.NewInbound(a.Catalog, a.Desk, log))
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.InboundSMTPAddr)
	if err != nil {
		return nil, fmt.Errorf("INBOUND_SMTP_ADDR: %w", err)
	}
	log.Info("receiving email", "addr", ln.Addr().String(), "domain", cfg.MailDomain, "max_mb", cfg.MaxEmailMB)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil {
			log.Error("the SMTP receiver stopped", "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
		<-done
	}, nil
}
