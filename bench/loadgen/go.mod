module rivetq.dev/bench/loadgen

go 1.19
