// Package e2e runs the scripts of testdata/ through the real binaries and
// compares each transcript with its expected output. It has no code of its
// own outside the test; see transcript_test.go for the file formats.
package e2e
