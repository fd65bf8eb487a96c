package main

import (
	"embed"
	"io/fs"
)

// The binary carries its templates, static assets and SQL migrations: one file to deploy.
//
//go:embed views
var viewsFS embed.FS

//go:embed assets
var assetsFS embed.FS

//go:embed sql/migrations
var migrationsFS embed.FS

// sub returns the named directory of an embedded tree; the names are fixed at compile time,
// so a failure is a build mistake.
func sub(fsys fs.FS, dir string) fs.FS {
	s, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return s
}
