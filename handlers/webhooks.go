package handlers

// The webhooks pages: the owner and admins register endpoints (URL and events; the signing
// secret is shown once), remove them, read each one's delivery log and send a delivery again.

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/handlers/webhook"
	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/desk"
)

// webhookURLWords word why an endpoint URL is refused.
var webhookURLWords = map[webhook.URLKind]string{
	webhook.URLRequired: "Enter the URL deliveries go to.",
	webhook.URLTooLong:  "The URL is too long (at most 2,048 characters).",
	webhook.URLSyntax:   "Enter a URL like https://hooks.example.com/tenantdesk, without spaces.",
	webhook.URLScheme:   "The URL must start with https:// (or http://).",
	webhook.URLUserinfo: "Leave the user name and password out of the URL.",
	webhook.URLHost:     "The URL needs a host name, or an IP address written the usual way.",
	webhook.URLPort:     "The port must be a number from 1 to 65535.",
	webhook.URLFragment: "Leave the #fragment out: it is never sent.",
	webhook.URLAddress:  "Deliveries cannot go to loopback, private, link-local or metadata addresses.",
}

// eventOption is a checkbox of the events.
type eventOption struct {
	Name    string
	Checked bool
}

// webhooksPage lists the endpoints and holds the form to add one.
type webhooksPage struct {
	Page
	Webhooks []desk.Webhook
	URL      string
	Events   []eventOption
	Errors   FieldErrors
	// Secret is set right after an endpoint was added: shown only this once.
	Secret string
	NewURL string
	Back   string
}

func (s *Server) renderWebhooks(c *fiber.Ctx, status int, p *webhooksPage, chosen []string) error {
	var err error
	if p.Webhooks, err = s.desk.Webhooks(c.UserContext(), currentOrg(c), actor(c)); err != nil {
		return err
	}
	for _, e := range desk.WebhookEvents {
		p.Events = append(p.Events, eventOption{Name: e, Checked: slices.Contains(chosen, e)})
	}
	p.Page.Title, p.Back = "Webhooks · "+currentOrg(c).Name, s.seat(c).Dash()
	return s.page(c, status, "pages/webhooks", p)
}

// webhooks handles GET /dash/webhooks.
func (s *Server) webhooks(c *fiber.Ctx) error {
	return s.renderWebhooks(c, fiber.StatusOK, &webhooksPage{}, desk.WebhookEvents)
}

// createWebhook handles POST /dash/webhooks: url, events (repeatable). The signing secret is
// shown once, in id="webhook-secret".
func (s *Server) createWebhook(c *fiber.Ctx) error {
	p := &webhooksPage{Errors: FieldErrors{}}
	p.URL = strings.Clone(strings.TrimSpace(formValue(c, "url")))
	var events []string
	for _, v := range c.Request().PostArgs().PeekMulti("events") {
		events = append(events, string(v))
	}
	if _, err := webhook.ValidateURL(p.URL, s.cfg.WebhookAllowPrivate); err != nil {
		kind := webhook.URLSyntax
		if ue, ok := err.(*webhook.URLError); ok {
			kind = ue.Kind
		}
		p.Errors["url"] = webhookURLWords[kind]
	}
	if _, err := desk.NormalizeEvents(events); err != nil {
		p.Errors["events"] = "Choose at least one of the events."
	}
	if len(p.Errors) > 0 {
		return s.renderWebhooks(c, fiber.StatusUnprocessableEntity, p, events)
	}
	secret := webhook.NewSecret()
	w, err := s.desk.CreateWebhook(c.UserContext(), currentOrg(c), actor(c), p.URL, events, secret)
	if apperr.CodeOf(err) == desk.CodeTooMany {
		p.Errors["url"] = "An organization has at most " + strconv.Itoa(desk.MaxWebhooks) + " webhooks: remove one first."
		return s.renderWebhooks(c, fiber.StatusConflict, p, events)
	}
	if err != nil {
		return err
	}
	s.log.Info("webhook created", "tenant", currentOrg(c).Username, "webhook_id", w.ID, "request_id", requestID(c))
	return s.renderWebhooks(c, fiber.StatusOK, &webhooksPage{Secret: secret, NewURL: w.URL}, desk.WebhookEvents)
}

// removeWebhook handles POST /dash/webhooks/:id/remove.
func (s *Server) removeWebhook(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	if err := s.desk.RemoveWebhook(c.UserContext(), currentOrg(c), actor(c), id); err != nil {
		return err
	}
	s.setFlash(c, "The webhook is removed: nothing more is sent to it.")
	return redirect(c, "/dash/webhooks")
}

// deliveryRow is a delivery as the log shows it.
type deliveryRow struct {
	desk.WebhookDelivery
	When, Last string
}

// webhookLogPage is one endpoint's delivery log.
type webhookLogPage struct {
	Page
	Webhook    desk.Webhook
	Deliveries []deliveryRow
	Older      string
	Back       string
}

// webhookLog handles GET /dash/webhooks/:id?before=: the endpoint's deliveries, newest first.
func (s *Server) webhookLog(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	org, a := currentOrg(c), actor(c)
	w, err := s.desk.Webhook(c.UserContext(), org, a, id)
	if err != nil {
		return err
	}
	before, _ := parseID(c.Query("before"))
	ds, err := s.desk.WebhookDeliveries(c.UserContext(), org, a, id, before, 50)
	if err != nil {
		return err
	}
	st, err := s.desk.Settings(c.UserContext(), org)
	if err != nil {
		return err
	}
	p := &webhookLogPage{Page: Page{Title: "Webhook deliveries · " + org.Name}, Webhook: w, Back: "/dash/webhooks"}
	for _, d := range ds {
		p.Deliveries = append(p.Deliveries, deliveryRow{WebhookDelivery: d, When: when(st.Location, d.CreatedAt),
			Last: when(st.Location, d.LastAttemptAt)})
	}
	if len(ds) == 50 {
		p.Older = "/dash/webhooks/" + strconv.FormatInt(id, 10) + "?before=" + strconv.FormatInt(ds[len(ds)-1].ID, 10)
	}
	return s.page(c, fiber.StatusOK, "pages/webhook_log", p)
}

// resendWebhook handles POST /dash/webhooks/:id/deliveries/:deliveryId/resend.
func (s *Server) resendWebhook(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	did, err := paramID(c, "deliveryId")
	if err != nil {
		return err
	}
	if _, err := s.desk.ResendWebhook(c.UserContext(), currentOrg(c), actor(c), id, did); err != nil {
		return err
	}
	s.setFlash(c, "The delivery is on its way again.")
	return redirect(c, "/dash/webhooks/"+strconv.FormatInt(id, 10))
}

// durationMS formats a delivery's duration for the log.
func durationMS(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
}
