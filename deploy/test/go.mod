module github.com/fireflow/fireflow/deploy/test

go 1.26.8

require github.com/google/go-cmp v0.7.0
