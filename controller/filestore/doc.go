// Package filestore keeps the files a Controller serves to its Agents —
// firmware images and Deployment Units — in a directory, each with its
// SHA-256 and size, and serves each at an unguessable URL
// (/files/TOKEN/NAME) so that an Agent's Download() or InstallDU() can
// fetch it over the Controller's own HTTP(S) listener without an account.
//
// A file is written to a temporary name while it is hashed, then renamed,
// so a file listed is always complete; memory does not grow with the
// file's size.
package filestore
