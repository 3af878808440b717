module weft/bench/ratebench

go 1.19
