module github.com/rivetq/rivetq/clients/go

go 1.19
