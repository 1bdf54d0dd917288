package framework

import (
	"net/http"

	"github.com/pdex-conform/pdex-conform/client/bulk"
)

func bulkGet(path string) bulk.Request {
	return bulk.Request{Method: http.MethodGet, URL: path}
}

// Get is a GET request for a path under the base.
func Get(path string) bulk.Request { return bulkGet(path) }
