package desk

// The email channel's configuration: the server's (MAIL_DOMAIN, PUBLIC_URL, SMTP_URL,
// MAIL_FROM, whether the receiver runs) and each organization's own (an SMTP server and sender,
// an IMAP mailbox, the auto-acknowledgment switch). Passwords are stored sealed in the
// tenant's settings, bound to the tenant and the setting.

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/email"
	"github.com/tenantdesk/tenantdesk/sql/email/imapin"
	"github.com/tenantdesk/tenantdesk/sql/email/smtpout"
	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// MailConfig is the server's email configuration.
type MailConfig struct {
	// Domain is MAIL_DOMAIN: of the Message-IDs sent, and of the addresses the receiver
	// takes mail at.
	Domain string
	// PublicURL is the base of every link an email carries (PUBLIC_URL), without a trailing
	// slash.
	PublicURL string
	// From is MAIL_FROM: the sender of the server's mail (shown with each organization's
	// name). Zero: only organizations with a server and sender of their own send.
	From email.Address
	// SMTP is SMTP_URL; nil: only organizations with a server of their own send.
	SMTP *smtpout.Config
	// Inbound says the built-in receiver takes mail for Domain: emails then carry a reply
	// address in it.
	Inbound bool
	// Secret is key material (at least 16 bytes) from which the keys of signed links and
	// reply addresses are derived; changing it voids the links and addresses of earlier
	// emails.
	Secret []byte
	// Sealer seals organizations' SMTP and IMAP passwords.
	Sealer *tenantdb.Sealer
	// MaxEmailBytes is the largest email received or downloaded (MAX_EMAIL_MB).
	MaxEmailBytes int64
	// MaxSentFilesBytes bounds the files one email to a customer carries together (default
	// 10 MiB, under what common mail servers accept once base64 adds its third); the files
	// of an answer above it are named in the email and stay on the ticket's page.
	MaxSentFilesBytes int64
	// Policy is how emails are retried (defaults: see OutboxPolicy).
	Policy OutboxPolicy
	// RootCAs verifies the certificates of organizations' own SMTP and IMAP servers; nil
	// uses the system's roots. (Tests trust a self-signed certificate through it.)
	RootCAs *x509.CertPool
	// PollEvery is how often organizations' IMAP mailboxes are polled (default 1 min);
	// PollTimeout bounds one poll (default 2 min).
	PollEvery, PollTimeout time.Duration
}

// mailKind is the outbox kind of emails.
const mailKind = "email"

// mailer is the email channel of a Service with email on.
type mailer struct {
	cfg               MailConfig
	linkKey, replyKey []byte
	global            *smtpout.Client // nil without SMTP_URL
	// clients caches the SMTP clients of organizations' own servers by their sealed
	// setting (a changed setting is another key).
	mu      sync.Mutex
	clients map[string]*smtpout.Client
}

// EnableMail turns the email channel on: notifications are enqueued by the desk's changes
// and sent through the outbox. Call it while wiring, before the Service serves.
func (s *Service) EnableMail(cfg MailConfig) error {
	if err := email.ValidDomain(cfg.Domain); err != nil {
		return fmt.Errorf("desk: MAIL_DOMAIN: %w", err)
	}
	cfg.Domain = strings.ToLower(cfg.Domain)
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if !strings.HasPrefix(cfg.PublicURL, "http://") && !strings.HasPrefix(cfg.PublicURL, "https://") {
		return errors.New("desk: PUBLIC_URL must be an http(s) URL")
	}
	if len(cfg.Secret) < 16 || cfg.Sealer == nil {
		return errors.New("desk: email needs key material and a sealer")
	}
	if cfg.From.Address != "" {
		if err := email.ValidAddress(cfg.From.Address); err != nil {
			return fmt.Errorf("desk: MAIL_FROM: %w", err)
		}
	}
	if cfg.MaxEmailBytes <= 0 {
		cfg.MaxEmailBytes = 25 << 20
	}
	if cfg.MaxSentFilesBytes <= 0 {
		cfg.MaxSentFilesBytes = 10 << 20
	}
	m := &mailer{cfg: cfg, clients: map[string]*smtpout.Client{}}
	var err error
	if m.linkKey, err = hkdf.Key(sha256.New, cfg.Secret, nil, "tenantdesk customer links v1", 32); err != nil {
		return err
	}
	if m.replyKey, err = hkdf.Key(sha256.New, cfg.Secret, nil, "tenantdesk reply addresses v1", 32); err != nil {
		return err
	}
	if cfg.SMTP != nil {
		if cfg.From.Address == "" {
			return errors.New("desk: SMTP_URL needs MAIL_FROM")
		}
		if m.global, err = smtpout.New(*cfg.SMTP); err != nil {
			return err
		}
	}
	s.mail = m
	s.RegisterSender(mailKind, SenderFunc(s.deliverEmail), cfg.Policy)
	s.addProducer(s.notify)
	return nil
}

// MailOn reports whether the server has email set up (MAIL_DOMAIN and PUBLIC_URL).
func (s *Service) MailOn() bool { return s.mail != nil }

// MailDomain is MAIL_DOMAIN ("" with email off).
func (s *Service) MailDomain() string {
	if s.mail == nil {
		return ""
	}
	return s.mail.cfg.Domain
}

// ---------------------------------------------------------------------------------------------
// Organization settings

// EmailSettings are an organization's email settings as its managers see them: passwords
// are never returned, only whether one is set.
type EmailSettings struct {
	// On: the server has email set up; Sending: this organization's emails go out (through
	// its own server or the server's); Receiving: the built-in receiver takes mail at
	// Address.
	On, Sending, Receiving bool
	// Address is where customers write to open a ticket: {org}@MAIL_DOMAIN.
	Address string
	// ServerFrom is the sender the server's SMTP uses for this organization (zero: none).
	ServerFrom email.Address
	// AutoAck sends the customer a "we received your ticket" email (default on).
	AutoAck bool
	// SMTP is the organization's own server (nil: the server's); From its sender.
	SMTP *SMTPSettings
	From email.Address
	// IMAP is the organization's own mailbox, polled for new mail (nil: none).
	IMAP *IMAPSettings
	// Problem says why a stored setting cannot be used (it does not unseal).
	Problem string
	// Mailbox is where the IMAP mailbox's import stands (nil without one).
	Mailbox *MailboxStatus
}

// SMTPSettings is an organization's own outgoing server. Password is write-only: when
// saving, an empty one keeps the stored password.
type SMTPSettings struct {
	Security    smtpout.Security
	Host        string
	Port        int
	Username    string
	Password    email.Secret
	HasPassword bool
}

// IMAPSettings is an organization's own mailbox; Password as in SMTPSettings.
type IMAPSettings struct {
	Security    imapin.Security
	Host        string
	Port        int
	Username    string
	Password    email.Secret
	HasPassword bool
	Folder      string
}

// Setting keys of the email channel.
const (
	settingAutoAck = "email.auto_ack"
	settingSMTP    = "email.smtp" // sealed JSON of an smtpout.Config (URL)
	settingFrom    = "email.from"
	settingIMAP    = "email.imap" // sealed JSON of imapSetting
)

// imapSetting is how IMAP settings are stored (sealed).
type imapSetting struct {
	Security imapin.Security `json:"security"`
	Host     string          `json:"host"`
	Port     int             `json:"port"`
	Username string          `json:"username"`
	Password string          `json:"password"`
	Folder   string          `json:"folder"`
}

// orgMail is an organization's email settings as the desk uses them.
type orgMail struct {
	autoAck bool
	smtp    *smtpout.Config
	// smtpSealed is the stored setting (the SMTP client cache's key).
	smtpSealed string
	from       email.Address
	imap       *imapin.Settings
	problem    string
}

// sending reports whether org's emails can go out, and from whom.
func (m *mailer) sender(org *catalog.Organization, om orgMail) (email.Address, bool) {
	if om.smtp != nil {
		return om.from, om.from.Address != ""
	}
	if m.global != nil {
		return email.Address{Name: org.Name, Address: m.cfg.From.Address}, true
	}
	return email.Address{}, false
}

// mailSealName binds a sealed mail password to its tenant and its setting.
func (s *Service) mailSealName(org *catalog.Organization, key string) string {
	return org.DBName + "|" + key
}

// readOrgMail reads org's email settings through q.
func (s *Service) readOrgMail(ctx context.Context, q querier, org *catalog.Organization) (orgMail, error) {
	om := orgMail{autoAck: true}
	rows, err := q.QueryContext(ctx, "SELECT CAST(key AS BLOB), CAST(value AS BLOB) FROM settings WHERE key LIKE 'email.%'")
	if err != nil {
		return om, fmt.Errorf("desk: email settings: %w", err)
	}
	defer rows.Close()
	vals := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return om, fmt.Errorf("desk: email settings: %w", err)
		}
		vals[k] = v
	}
	if err := rows.Err(); err != nil {
		return om, err
	}
	om.autoAck = vals[settingAutoAck] != "0"
	if v := vals[settingFrom]; v != "" {
		if a, err := email.ParseAddress(v); err == nil {
			om.from = a
		}
	}
	if s.mail == nil {
		return om, nil
	}
	if v := vals[settingSMTP]; v != "" {
		raw, err := s.mail.cfg.Sealer.Open(s.mailSealName(org, settingSMTP), v)
		if err == nil {
			var c smtpout.Config
			if c, err = smtpout.ParseURL(raw); err == nil {
				om.smtp, om.smtpSealed = &c, v
			}
		}
		if err != nil {
			om.problem = "The stored SMTP settings cannot be read (was SESSION_SECRET changed?); enter them again."
		}
	}
	if v := vals[settingIMAP]; v != "" {
		raw, err := s.mail.cfg.Sealer.Open(s.mailSealName(org, settingIMAP), v)
		var st imapSetting
		if err == nil {
			err = json.Unmarshal([]byte(raw), &st)
		}
		if err != nil {
			om.problem = "The stored IMAP settings cannot be read (was SESSION_SECRET changed?); enter them again."
		} else {
			om.imap = &imapin.Settings{Host: st.Host, Port: st.Port, Security: st.Security, Username: st.Username,
				Password: email.Secret(st.Password), Folder: st.Folder}
		}
	}
	return om, nil
}

// orgMailIn returns org's email settings, from memory while the tenant's generation has not
// moved, else read through q (inside a transaction, q is its connection: the tenant has one).
func (s *Service) orgMailIn(ctx context.Context, q querier, org *catalog.Organization, ts *tenantState) (orgMail, error) {
	if c := ts.mail.Load(); c != nil && s.fresh(ts, c.gen, c.at) {
		return c.v, nil
	}
	gen, at := ts.gen.Load(), s.now()
	om, err := s.readOrgMail(ctx, q, org)
	if err != nil {
		return om, err
	}
	ts.mail.Store(&stamped[orgMail]{v: om, gen: gen, at: at})
	return om, nil
}

// orgMail returns org's email settings outside a transaction.
func (s *Service) orgMail(ctx context.Context, org *catalog.Organization) (orgMail, error) {
	ts := s.tenant(org)
	if c := ts.mail.Load(); c != nil && s.fresh(ts, c.gen, c.at) {
		return c.v, nil
	}
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return orgMail{}, err
	}
	defer release()
	return s.orgMailIn(ctx, db.db, org, ts)
}

// EmailSettings returns org's email settings: the owner and admins.
func (s *Service) EmailSettings(ctx context.Context, org *catalog.Organization, a Actor) (EmailSettings, error) {
	if err := mayManage(a); err != nil {
		return EmailSettings{}, err
	}
	om, err := s.orgMail(ctx, org)
	if err != nil {
		return EmailSettings{}, err
	}
	out := EmailSettings{AutoAck: om.autoAck, From: om.from, Problem: om.problem}
	if s.mail == nil {
		return out, nil
	}
	m := s.mail
	out.On = true
	_, out.Sending = m.sender(org, om)
	out.Receiving = m.cfg.Inbound
	if out.Receiving {
		out.Address = org.Username + "@" + m.cfg.Domain
	}
	if m.global != nil {
		out.ServerFrom = email.Address{Name: org.Name, Address: m.cfg.From.Address}
	}
	if om.smtp != nil {
		out.SMTP = &SMTPSettings{Security: om.smtp.Security, Host: om.smtp.Host, Port: om.smtp.Port,
			Username: om.smtp.Username, HasPassword: om.smtp.Password != ""}
	}
	if om.imap != nil {
		out.IMAP = &IMAPSettings{Security: om.imap.Security, Host: om.imap.Host, Port: om.imap.Port,
			Username: om.imap.Username, HasPassword: om.imap.Password != "", Folder: om.imap.Folder}
		db, release, err := s.store(ctx, org, s.tenant(org))
		if err != nil {
			return out, err
		}
		defer release()
		if out.Mailbox, err = mailboxStatus(ctx, db.db); err != nil {
			return out, err
		}
	}
	return out, nil
}

// EmailSettingsInput is what a manager saves. A nil SMTP or IMAP removes that setting; an
// empty password keeps the stored one.
type EmailSettingsInput struct {
	AutoAck bool
	SMTP    *SMTPSettings
	From    string
	IMAP    *IMAPSettings
}

// SetEmailSettings stores org's email settings: the owner and admins. An unusable value is
// Invalid on its field (smtp_host, smtp_port, smtp_user, smtp_password, mail_from, imap_host,
// imap_port, imap_security, imap_user, imap_password, imap_folder).
func (s *Service) SetEmailSettings(ctx context.Context, org *catalog.Organization, a Actor, in EmailSettingsInput) error {
	if err := mayManage(a); err != nil {
		return err
	}
	if s.mail == nil {
		return errNoMail
	}
	old, err := s.orgMail(ctx, org)
	if err != nil {
		return err
	}
	bad := func(field string) error { return apperr.Field(apperr.Invalid, field, CodeEmailSetting) }
	values := map[string]string{settingAutoAck: "1", settingSMTP: "", settingFrom: "", settingIMAP: ""}
	if !in.AutoAck {
		values[settingAutoAck] = "0"
	}
	if from := strings.TrimSpace(in.From); from != "" {
		addr, err := email.ParseAddress(from)
		if err != nil || len(from) > 200 {
			return bad("mail_from")
		}
		values[settingFrom] = addr.String()
	}
	var newSMTP string // the new server's URL, password included; compared, never stored plain
	if in.SMTP != nil {
		c := smtpout.Config{Security: in.SMTP.Security, Host: strings.TrimSpace(in.SMTP.Host), Port: in.SMTP.Port,
			Username: strings.TrimSpace(in.SMTP.Username), Password: in.SMTP.Password}
		if c.Password == "" && old.smtp != nil && old.smtp.Username == c.Username {
			c.Password = old.smtp.Password
		}
		if c.Port == 0 {
			c.Port = 587
			if c.Security == smtpout.ImplicitTLS {
				c.Port = 465
			}
		}
		if _, err := smtpout.New(c); err != nil {
			return bad("smtp_host")
		}
		if strings.ContainsAny(c.Username+c.Password.Reveal(), "\x00\r\n") || len(c.Username) > 200 || len(c.Password) > 500 {
			return bad("smtp_user")
		}
		if c.Username != "" && c.Password == "" {
			return bad("smtp_password")
		}
		// The stored form is the URL, parsed back to prove it reads.
		if back, err := smtpout.ParseURL(c.URL()); err != nil || back.Host != c.Host {
			return bad("smtp_host")
		}
		if values[settingFrom] == "" {
			return apperr.Field(apperr.Invalid, "mail_from", CodeSMTPNeedsFrom)
		}
		sealed, err := s.mail.cfg.Sealer.Seal(s.mailSealName(org, settingSMTP), c.URL())
		if err != nil {
			return err
		}
		values[settingSMTP] = sealed
		newSMTP = c.URL()
	}
	var newIMAP *imapin.Settings
	if in.IMAP != nil {
		st := imapSetting{Security: in.IMAP.Security, Host: strings.TrimSpace(in.IMAP.Host), Port: in.IMAP.Port,
			Username: strings.TrimSpace(in.IMAP.Username), Password: in.IMAP.Password.Reveal(), Folder: strings.TrimSpace(in.IMAP.Folder)}
		if st.Password == "" && old.imap != nil && old.imap.Username == st.Username {
			st.Password = old.imap.Password.Reveal()
		}
		if st.Port == 0 {
			st.Port = 993
			if st.Security != imapin.ImplicitTLS {
				st.Port = 143
			}
		}
		settings := imapin.Settings{Host: st.Host, Port: st.Port, Security: st.Security, Username: st.Username,
			Password: email.Secret(st.Password), Folder: st.Folder}
		if err := settings.Validate(); err != nil {
			return bad(imapField(err.Error(), st))
		}
		newIMAP = &settings
		b, err := json.Marshal(st)
		if err != nil {
			return err
		}
		sealed, err := s.mail.cfg.Sealer.Seal(s.mailSealName(org, settingIMAP), string(b))
		if err != nil {
			return err
		}
		values[settingIMAP] = sealed
	}
	ts := s.tenant(org)
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return err
	}
	defer release()
	err = db.inTx(ctx, "SetEmailSettings", func(tx *sql.Tx) error {
		for k, v := range values {
			if v == "" {
				if _, err := tx.ExecContext(ctx, "DELETE FROM settings WHERE key = ?", k); err != nil {
					return err
				}
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, k, v, s.now().Unix()); err != nil {
				return err
			}
		}
		if changed := emailSettingsChanged(old, values, newSMTP, newIMAP); len(changed) > 0 {
			// Which settings changed, never their values: passwords stay out of the log.
			if err := writeAudit(ctx, tx, stamp(s.now), a, audit{event: AuditSettingsChanged, targetKind: TargetSettings,
				detail: map[string]string{"setting": strings.Join(changed, ", ")}}); err != nil {
				return err
			}
		}
		return s.mailboxChanged(ctx, tx, org, old.imap, newIMAP, stamp(s.now))
	})
	if err != nil {
		return err
	}
	ts.appends.Add(1)
	s.changed(ts, Event{Kind: SettingsChanged, By: a})
	return nil
}

// emailSettingsChanged names the email settings that values (the new stored values) and the
// new server and mailbox change from old.
func emailSettingsChanged(old orgMail, values map[string]string, newSMTP string, newIMAP *imapin.Settings) []string {
	var changed []string
	if old.autoAck != (values[settingAutoAck] != "0") {
		changed = append(changed, settingAutoAck)
	}
	oldFrom := ""
	if old.from.Address != "" {
		oldFrom = old.from.String()
	}
	if oldFrom != values[settingFrom] {
		changed = append(changed, settingFrom)
	}
	oldSMTP := ""
	if old.smtp != nil {
		oldSMTP = old.smtp.URL()
	}
	if oldSMTP != newSMTP {
		changed = append(changed, settingSMTP)
	}
	if !sameMailbox(old.imap, newIMAP) {
		changed = append(changed, settingIMAP)
	}
	return changed
}

// sameMailbox reports whether a and b poll the same mailbox with the same credentials.
func sameMailbox(a, b *imapin.Settings) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Host == b.Host && a.Port == b.Port && a.Security == b.Security && a.Username == b.Username &&
		a.Password.Reveal() == b.Password.Reveal() && a.Folder == b.Folder
}

// imapField names the form field an imapin.Validate error is about.
func imapField(msg string, st imapSetting) string {
	switch {
	case strings.Contains(msg, "host"), strings.Contains(msg, "unencrypted"):
		return "imap_host"
	case strings.Contains(msg, "port"):
		return "imap_port"
	case strings.Contains(msg, "security"):
		return "imap_security"
	case strings.Contains(msg, "folder"):
		return "imap_folder"
	case st.Password == "":
		return "imap_password"
	}
	return "imap_user"
}

// ---------------------------------------------------------------------------------------------
// Sending

// emailPayload is an email item's payload: the envelope and the composed message, and the
// files to attach as it is sent (by id, of message FilesOf: read from the tenant's database
// at each attempt, so the row stays small and every attempt sends the same bytes).
type emailPayload struct {
	From    string   `json:"from"`
	To      []string `json:"to"`
	Raw     []byte   `json:"raw"`
	FilesOf int64    `json:"files_of,omitempty"`
	Files   []int64  `json:"files,omitempty"`
}

// smtpFor returns the client org's emails go through, or nil when it has none.
func (s *Service) smtpFor(ctx context.Context, org *catalog.Organization) (*smtpout.Client, error) {
	m := s.mail
	om, err := s.orgMail(ctx, org)
	if err != nil {
		return nil, err
	}
	if om.smtp == nil {
		return m.global, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.clients[om.smtpSealed]; ok {
		return c, nil
	}
	cfg := *om.smtp
	cfg.RootCAs = m.cfg.RootCAs
	c, err := smtpout.New(cfg)
	if err != nil {
		return nil, err
	}
	if len(m.clients) > 1000 {
		clear(m.clients)
	}
	m.clients[om.smtpSealed] = c
	return c, nil
}

// deliverEmail is the outbox's Sender of emails.
func (s *Service) deliverEmail(ctx context.Context, org *catalog.Organization, it OutboxItem) Outcome {
	var p emailPayload
	if err := json.Unmarshal(it.Payload, &p); err != nil || len(p.Raw) == 0 || len(p.To) == 0 {
		return GiveUp(errors.New("unreadable email in the outbox"))
	}
	c, err := s.smtpFor(ctx, org)
	if err != nil {
		return RetryLater(err)
	}
	if c == nil {
		return GiveUp(errors.New("email is off for this organization: no SMTP server is set up"))
	}
	raw := p.Raw
	if len(p.Files) > 0 {
		files, err := s.emailFiles(ctx, org, p.FilesOf, p.Files)
		if err != nil {
			if apperr.Is(err, apperr.NotFound) {
				return GiveUp(err)
			}
			return RetryLater(err)
		}
		if raw, err = email.Attach(raw, files); err != nil {
			return RetryLater(err)
		}
	}
	err = c.Send(ctx, &email.Outgoing{From: p.From, To: p.To, Raw: raw})
	var se *smtpout.Error
	if errors.As(err, &se) && !se.Retry() {
		return GiveUp(err)
	}
	return RetryLater(err)
}

// SendTestEmail sends a test email to to, now, through org's SMTP server (its own or the
// server's): the owner and admins check their settings with it. It returns what went wrong
// in words for the manager ("" when the server accepted the email); err is for a refusal
// (Forbidden, Invalid to, email off) or a failure to read the settings.
func (s *Service) SendTestEmail(ctx context.Context, org *catalog.Organization, a Actor, to string) (string, error) {
	if err := mayManage(a); err != nil {
		return "", err
	}
	if s.mail == nil {
		return "", errNoMail
	}
	if email.ValidAddress(to) != nil {
		return "", apperr.Field(apperr.Invalid, "to", apperr.CodeInvalid)
	}
	om, err := s.orgMail(ctx, org)
	if err != nil {
		return "", err
	}
	from, ok := s.mail.sender(org, om)
	if !ok {
		return "", errNoMail
	}
	c, err := s.smtpFor(ctx, org)
	if err != nil || c == nil {
		return "", errors.Join(err, errNoMail)
	}
	out, err := email.Compose(email.Notification{From: from, To: []email.Address{{Address: to}}, Domain: s.mail.cfg.Domain,
		Subject: "Test email from " + org.Name,
		Text: "This is a test email from " + org.Name + "'s helpdesk (" + s.mail.cfg.PublicURL + "). " +
			"Its settings work: customers and agents will get their emails this way.",
		Date: s.now()})
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := c.Send(ctx, out); err != nil {
		var se *smtpout.Error
		if errors.As(err, &se) {
			return describeSMTP(se), nil
		}
		return err.Error(), nil
	}
	s.log.Info("test email sent", "tenant", org.Username, "by", a.String())
	return "", nil
}

// describeSMTP words a failed send for a manager.
func describeSMTP(e *smtpout.Error) string {
	var b strings.Builder
	switch e.Kind {
	case smtpout.Setup:
		b.WriteString("The server cannot be used as configured")
	case smtpout.Permanent:
		b.WriteString("The server refused the email")
	default:
		b.WriteString("The server could not be reached or failed for now")
	}
	b.WriteString(" (at " + e.Stage)
	if e.Code != 0 {
		b.WriteString(", reply " + strconv.Itoa(e.Code))
	}
	b.WriteString("): " + e.Err.Error())
	return b.String()
}
