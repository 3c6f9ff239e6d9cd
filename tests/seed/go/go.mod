// Runs the seed project's public Go client, unchanged, against a real rivetqd (see
// tests/e2e/test_seed_clients.py). Its copy sits beside this repository's clone, in
// ../shared/seed-clients; it has the module path of our own Go SDK, hence the replace.
module rivetq.test/seedclients

go 1.19

require github.com/rivetq/rivetq/clients/go v0.0.0-00010101000000-000000000000

replace github.com/rivetq/rivetq/clients/go => ../../../../shared/seed-clients/clients/go
