package route

import "ignis/mod"

// EachResource implements mod.SessionLister.
func (r *Router) EachResource(fn func(mod.Resource) bool) {
	r.table.Each(func(e Endpoint) bool { return fn(e) })
}
