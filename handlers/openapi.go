package handlers

import _ "embed"

// openAPIDocument is the API's OpenAPI 3.1 description, served at /api/v1/openapi.json and
// checked against the real answers by the tests.
//
//go:embed openapi.json
var openAPIDocument []byte
