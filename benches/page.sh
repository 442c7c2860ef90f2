#!/usr/bin/env bash
# The commands of benches/page/src/page.md as a plain script through the docker CLI: what the page costs
# without docktest. `scripts/bench` runs it in the engine's namespace, as docktest runs the page.
set -e
docker network create bench-net
docker run -d --name web --network bench-net --network-alias www nginx:alpine
docker run --rm --network bench-net alpine wget -q -O - http://www
docker run --rm --network bench-net alpine nslookup -type=a www
docker run -d --name pub -p 127.0.0.1:8080:80 nginx:alpine
docker run --rm --link pub:db alpine env | grep DB_PORT_80_TCP_ADDR
docker exec web ls /usr/share/nginx/html
curl -s http://127.0.0.1:8080 | grep '<h1>'
docker rm -f web pub
docker network rm bench-net
