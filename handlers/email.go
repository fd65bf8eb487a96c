package handlers

// The email channel's pages: the organization's email settings (its own SMTP server and
// sender, its IMAP mailbox, the acknowledgment switch, a test email, the emails that failed),
// an agent's choice of new-ticket emails, and rotating a customer's access.

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/email"
	"github.com/tenantdesk/tenantdesk/sql/email/imapin"
	"github.com/tenantdesk/tenantdesk/sql/email/smtpout"
)

// emailSettingsPage is GET /dash/settings/email.
type emailSettingsPage struct {
	Page
	Back string
	S    desk.EmailSettings
	// Values are the form's values (the stored ones, or what was entered); never passwords.
	Values emailValues
	Errors FieldErrors
	// TestTo is the test email's recipient; Result what the test found.
	TestTo     string
	TestResult string
	TestFailed bool
	// Failed are the emails given up, newest first.
	Failed []desk.OutboxItem
	Seat   seat
}

type emailValues struct {
	AutoAck                                                bool
	From                                                   string
	SMTPSecurity, SMTPHost, SMTPPort, SMTPUser             string
	SMTPHasPassword                                        bool
	IMAPSecurity, IMAPHost, IMAPPort, IMAPUser, IMAPFolder string
	IMAPHasPassword                                        bool
	SMTPSecurities, IMAPSecurities                         []string
}

func valuesOf(st desk.EmailSettings) emailValues {
	v := emailValues{AutoAck: st.AutoAck, SMTPSecurity: "smtp", IMAPSecurity: "tls"}
	if st.From.Address != "" {
		v.From = st.From.String()
	}
	if st.SMTP != nil {
		v.SMTPSecurity, v.SMTPHost, v.SMTPPort = st.SMTP.Security.Scheme(), st.SMTP.Host, strconv.Itoa(st.SMTP.Port)
		v.SMTPUser, v.SMTPHasPassword = st.SMTP.Username, st.SMTP.HasPassword
	}
	if st.IMAP != nil {
		v.IMAPSecurity, v.IMAPHost, v.IMAPPort = string(st.IMAP.Security), st.IMAP.Host, strconv.Itoa(st.IMAP.Port)
		v.IMAPUser, v.IMAPHasPassword, v.IMAPFolder = st.IMAP.Username, st.IMAP.HasPassword, st.IMAP.Folder
	}
	return v
}

// managerEmail is the address the viewer's test email goes to by default: the owner's or the
// admin agent's own.
func (s *Server) managerEmail(c *fiber.Ctx) string {
	if a := currentAgent(c); a != nil && actor(c).Kind == desk.AgentActor {
		return a.Email
	}
	return currentOrg(c).Email
}

// emailPage loads the page with the stored settings.
func (s *Server) emailPage(c *fiber.Ctx) (*emailSettingsPage, error) {
	org, a := currentOrg(c), actor(c)
	st, err := s.desk.EmailSettings(c.UserContext(), org, a)
	if err != nil {
		return nil, err
	}
	p := &emailSettingsPage{Page: Page{Title: "Email settings"}, Back: s.seat(c).Dash(), S: st, Values: valuesOf(st),
		Errors: FieldErrors{}, TestTo: s.managerEmail(c), Seat: s.seat(c)}
	if st.On {
		if p.Failed, err = s.desk.Outbox(c.UserContext(), org, a, desk.OutboxFilter{State: desk.OutboxFailed, Kind: "email", Limit: 50}); err != nil {
			return nil, err
		}
	}
	p.Values.SMTPSecurities = []string{"smtp", "smtp+starttls", "smtps"}
	p.Values.IMAPSecurities = []string{string(imapin.ImplicitTLS), string(imapin.StartTLS), string(imapin.Plain)}
	return p, nil
}

// emailSettings handles GET /dash/settings/email.
func (s *Server) emailSettings(c *fiber.Ctx) error {
	p, err := s.emailPage(c)
	if err != nil {
		return err
	}
	return s.page(c, fiber.StatusOK, "pages/email_settings", p)
}

// emailFieldWords word the settings' field errors.
var emailFieldWords = map[string]string{
	"mail_from":     "Enter a sender like Acme Support <support@acme.example>.",
	"smtp_host":     "Enter the SMTP server's host name or IP address and a port from 1 to 65535.",
	"smtp_port":     "Enter a port from 1 to 65535.",
	"smtp_user":     "The user name and password must be single lines.",
	"smtp_password": "Enter the password for this user name.",
	"imap_host":     "Enter the IMAP server's host name (an unencrypted connection is allowed only to this machine).",
	"imap_port":     "Enter a port from 1 to 65535.",
	"imap_security": "Choose tls, starttls or none.",
	"imap_user":     "Enter the mailbox's user name.",
	"imap_password": "Enter the mailbox's password.",
	"imap_folder":   "A folder name is one line without * or %.",
	"to":            "Enter a valid email address, like name@example.com.",
}

// saveEmailSettings handles POST /dash/settings/email: the settings (action=save) or a test
// email (action=test, to).
func (s *Server) saveEmailSettings(c *fiber.Ctx) error {
	org, a := currentOrg(c), actor(c)
	if formValue(c, "action") == "test" {
		return s.testEmail(c)
	}
	p, err := s.emailPage(c)
	if err != nil {
		return err
	}
	if !p.S.On {
		return apperr.New(apperr.Conflict, desk.CodeEmailOff)
	}
	f := newForm(c)
	v := emailValues{AutoAck: formValue(c, "auto_ack") == "on", SMTPSecurities: p.Values.SMTPSecurities, IMAPSecurities: p.Values.IMAPSecurities,
		SMTPHasPassword: p.Values.SMTPHasPassword, IMAPHasPassword: p.Values.IMAPHasPassword}
	v.From = f.text("mail_from", "Sender", 0, 200)
	v.SMTPSecurity = f.text("smtp_security", "Security", 0, 20)
	v.SMTPHost = f.text("smtp_host", "Host", 0, 253)
	v.SMTPPort = f.text("smtp_port", "Port", 0, 5)
	v.SMTPUser = f.text("smtp_user", "User name", 0, 200)
	smtpPass := formValue(c, "smtp_password")
	v.IMAPSecurity = f.text("imap_security", "Security", 0, 20)
	v.IMAPHost = f.text("imap_host", "Host", 0, 253)
	v.IMAPPort = f.text("imap_port", "Port", 0, 5)
	v.IMAPUser = f.text("imap_user", "User name", 0, 200)
	v.IMAPFolder = f.text("imap_folder", "Folder", 0, 200)
	imapPass := formValue(c, "imap_password")
	for field, pw := range map[string]string{"smtp_password": smtpPass, "imap_password": imapPass} {
		if len(pw) > 500 || hasForbiddenControl(pw) || strings.ContainsAny(pw, "\r\n") {
			f.fail(field, "The password must be one line of at most 500 characters.")
		}
	}
	in := desk.EmailSettingsInput{AutoAck: v.AutoAck, From: v.From}
	if v.SMTPHost != "" {
		sec, ok := map[string]smtpout.Security{"smtp": smtpout.StartTLSIfOffered, "smtp+starttls": smtpout.StartTLSRequired,
			"smtps": smtpout.ImplicitTLS}[v.SMTPSecurity]
		if !ok {
			f.fail("smtp_security", "Choose smtp, smtp+starttls or smtps.")
		}
		port, ok := optionalPort(v.SMTPPort)
		if !ok {
			f.fail("smtp_port", emailFieldWords["smtp_port"])
		}
		in.SMTP = &desk.SMTPSettings{Security: sec, Host: v.SMTPHost, Port: port, Username: v.SMTPUser, Password: email.Secret(smtpPass)}
	}
	if v.IMAPHost != "" {
		port, ok := optionalPort(v.IMAPPort)
		if !ok {
			f.fail("imap_port", emailFieldWords["imap_port"])
		}
		in.IMAP = &desk.IMAPSettings{Security: imapin.Security(v.IMAPSecurity), Host: v.IMAPHost, Port: port, Username: v.IMAPUser,
			Password: email.Secret(imapPass), Folder: v.IMAPFolder}
	}
	if f.ok() {
		err = s.desk.SetEmailSettings(c.UserContext(), org, a, in)
		if e, ok := apperr.As(err); ok && e.Kind == apperr.Invalid {
			msg := emailFieldWords[e.Field]
			if e.Code == desk.CodeSMTPNeedsFrom {
				msg = "Your own SMTP server needs your own sender address."
			}
			if msg == "" {
				msg = "This value cannot be used."
			}
			f.fail(e.Field, msg)
		} else if err != nil {
			return err
		}
	}
	if !f.ok() {
		p.Values, p.Errors = v, f.Errors
		return s.page(c, fiber.StatusUnprocessableEntity, "pages/email_settings", p)
	}
	s.log.Info("email settings saved", "tenant", org.Username, "by", a.String(), "own_smtp", in.SMTP != nil, "imap", in.IMAP != nil)
	s.setFlash(c, "Email settings saved.")
	return redirect(c, "/dash/settings/email")
}

// testEmail sends a test email now and shows what happened.
func (s *Server) testEmail(c *fiber.Ctx) error {
	org, a := currentOrg(c), actor(c)
	p, err := s.emailPage(c)
	if err != nil {
		return err
	}
	to := strings.ToLower(strings.TrimSpace(formValue(c, "to")))
	p.TestTo = to
	problem, err := s.desk.SendTestEmail(c.UserContext(), org, a, to)
	switch {
	case apperr.Is(err, apperr.Invalid):
		p.Errors["to"] = emailFieldWords["to"]
		return s.page(c, fiber.StatusUnprocessableEntity, "pages/email_settings", p)
	case apperr.CodeOf(err) == desk.CodeEmailOff:
		p.TestResult, p.TestFailed = codeWords[desk.CodeEmailOff], true
		return s.page(c, fiber.StatusConflict, "pages/email_settings", p)
	case err != nil:
		return err
	case problem != "":
		s.log.Info("test email failed", "tenant", org.Username, "problem", problem)
		p.TestResult, p.TestFailed = "The test email was not sent. "+problem, true
		return s.page(c, fiber.StatusUnprocessableEntity, "pages/email_settings", p)
	}
	s.setFlash(c, "A test email went to "+to+".")
	return redirect(c, "/dash/settings/email")
}

// optionalPort reads a port field: empty is the default (0).
func optionalPort(v string) (int, bool) {
	if v == "" {
		return 0, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != v {
		return 0, false
	}
	return n, true
}

// setNewTicketEmails handles POST /agent/:org/email-prefs: new_tickets (a checkbox).
func (s *Server) setNewTicketEmails(c *fiber.Ctx) error {
	on := formValue(c, "new_tickets") == "on"
	if err := s.desk.SetNewTicketEmails(c.UserContext(), currentOrg(c), actor(c), on); err != nil {
		return err
	}
	if on {
		s.setFlash(c, "You will get an email for every new ticket.")
	} else {
		s.setFlash(c, "You will no longer get an email for every new ticket.")
	}
	return redirect(c, agentURL(currentOrg(c).Username, "dash"))
}

// rotateAccess handles POST …/tickets/:ticketId/access: the customer's links and reply
// address stop working.
func (s *Server) rotateAccess(c *fiber.Ctx) error {
	return s.ticketAction(c, func(id int64) error {
		if err := s.desk.RotateAccess(c.UserContext(), currentOrg(c), actor(c), id); err != nil {
			return err
		}
		s.setFlash(c, "The customer's old link and the links in earlier emails no longer work. "+
			"The next email carries a new one, and the customer can ask for one on your my-tickets page.")
		return nil
	})
}

// ticketEmails returns the emails about ticket t for its page (the team's), and what they add
// to its messages.
func (s *Server) ticketEmails(c *fiber.Ctx, ticketID int64) ([]desk.OutboxItem, *MessageExtras, error) {
	if !s.desk.MailOn() {
		return nil, nil, nil
	}
	org, a := currentOrg(c), actor(c)
	items, err := s.desk.Outbox(c.UserContext(), org, a, desk.OutboxFilter{TicketID: ticketID, Kind: "email", Limit: 200})
	if err != nil {
		return nil, nil, err
	}
	x := &MessageExtras{Emails: map[int64][]desk.OutboxItem{}, Received: map[int64]string{}}
	for _, it := range items {
		if it.MessageID != 0 {
			x.Emails[it.MessageID] = append(x.Emails[it.MessageID], it)
		}
	}
	received, err := s.desk.ReceivedEmails(c.UserContext(), org, a, ticketID)
	if err != nil {
		return nil, nil, err
	}
	for msg, id := range received {
		x.Received[msg] = s.seat(c).Email(id)
	}
	return items, x, nil
}

// Email is the page of a received email.
func (st seat) Email(id int64) string {
	if st.Owner {
		return "/dash/emails/" + strconv.FormatInt(id, 10)
	}
	return agentURL(st.OrgUser, "emails", strconv.FormatInt(id, 10))
}

// receivedEmailPage is a received email as the team reads it.
type receivedEmailPage struct {
	Page
	Seat  seat
	Email desk.ReceivedEmail
	// Talk is the page of the ticket it belongs to ("" when none).
	Talk string
	Loc  *time.Location
}

// receivedEmail handles GET /agent/:org/emails/:emailId and /dash/emails/:emailId: a received
// email whole, its quoted history included, as text.
func (s *Server) receivedEmail(c *fiber.Ctx) error {
	id, err := paramID(c, "emailId")
	if err != nil {
		return err
	}
	org, a := currentOrg(c), actor(c)
	r, err := s.desk.ReceivedEmail(c.UserContext(), org, a, id)
	if err != nil {
		return err
	}
	p := &receivedEmailPage{Page: Page{Title: "Email from " + r.Sender}, Seat: s.seat(c), Email: r}
	if r.TicketID != 0 {
		t, err := s.desk.TicketByID(c.UserContext(), org, a, r.TicketID)
		if err != nil {
			return err
		}
		p.Talk = p.Seat.Talk(t.ConversationID)
	}
	settings, err := s.desk.Settings(c.UserContext(), org)
	if err != nil {
		return err
	}
	p.Loc = settings.Location
	return s.page(c, fiber.StatusOK, "pages/email_received", p)
}
