// Package e2e drives the real tenantdesk binary with a real Chromium (Debian's chromium package)
// through github.com/chromedp/chromedp. It has only tests:
//
//   - TestMain builds the binary from the module root, starts it on a free loopback port with a
//     temporary DATA_DIR and starts one headless Chromium; every person in a scenario gets a
//     browser context of their own (separate cookies, like separate browsers).
//   - Every tab records uncaught exceptions, console errors (CSP violations are reported as
//     console errors), failed requests and responses of 400 or more; a test fails if any
//     appeared that it did not ask for.
//   - Without Chromium the browser tests fail (they never skip): install it with
//     `apt-get install chromium`, as .ci/run does, or point CHROME_PATH at a Chrome binary.
//
// SCREENSHOTS=dir go test ./e2e -run Screenshots (make screenshots) writes the screenshots of
// the main pages at phone and desktop widths into dir (relative to the module root).
// E2E_DEBUG=1 prints every request the browsers make and every step slower than 300 ms.
package e2e
