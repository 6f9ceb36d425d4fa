// Package fronttest has the test doubles of the fronts' tests (packages
// resp, memcache and httpapi): Store, a fake front.Store with one
// replica's semantics that records what it was asked and can be made to
// lag or fail.
package fronttest
