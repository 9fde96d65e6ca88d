module github.com/go-smtp-source/go-smtp-source

go 1.26.8

require (
	github.com/google/go-cmp v0.7.0
	github.com/pborman/getopt/v2 v2.2.0
	golang.org/x/sys v0.50.0
)
