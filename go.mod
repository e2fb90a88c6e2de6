module github.com/oneface/oneface

go 1.26.0

require (
	github.com/Kagami/go-face v0.0.0-20210630145111-0c14797b4d0e
	golang.org/x/image v0.47.0
)
