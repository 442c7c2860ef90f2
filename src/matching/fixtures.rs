//! Output as engines printed it, written for the tests: an older engine's (Docker 17, the widths and keys of
//! many published tutorials) and today's, for the same steps of a tutorial on the default bridge.

/// `docker network ls` on Docker 17: tabwriter padded every column to at least 20.
pub(super) const NETWORK_LS_17: &str = r#"NETWORK ID          NAME                DRIVER              SCOPE
b9c7a3f6e2d1        bridge              bridge              local
4e8d2c1a7b90        host                host                local
0f3a6b9c2e51        none                null                local
"#;

/// `docker network ls` on today's engine and CLI: columns at least 10 wide.
pub(super) const NETWORK_LS_NOW: &str = r#"NETWORK ID     NAME      DRIVER    SCOPE
a1b2c3d4e5f6   bridge    bridge    local
6f5e4d3c2b1a   host      host      local
9e8d7c6b5a43   none      null      local
"#;

/// `docker container ls` on Docker 17, two alpine shells detached, no published ports.
pub(super) const CONTAINER_LS_17: &str = r#"CONTAINER ID        IMAGE               COMMAND             CREATED             STATUS              PORTS               NAMES
7c1e5f2a9b3d        alpine              "ash"               6 seconds ago       Up 5 seconds                            alpine2
e4a8b0c6d2f1        alpine              "ash"               21 seconds ago      Up 20 seconds                           alpine1
"#;

/// The same `docker container ls` today: other IDs and times, narrower columns, the empty PORTS cell.
pub(super) const CONTAINER_LS_NOW: &str = r#"CONTAINER ID   IMAGE     COMMAND   CREATED                  STATUS                  PORTS     NAMES
b8e2a6c0f4d7   alpine    "ash"     Less than a second ago   Up Less than a second             alpine2
5d9f1b3e7a2c   alpine    "ash"     About a minute ago       Up About a minute                 alpine1
"#;

/// `docker network inspect bridge` on Docker 17 with those two containers: no `Ingress`, `ConfigFrom`,
/// `ConfigOnly` or `EnableIPv4` yet; `Containers` keyed by full IDs, sorted by them.
pub(super) const NETWORK_INSPECT_17: &str = r#"[
    {
        "Name": "bridge",
        "Id": "b9c7a3f6e2d1d9b958307cd8ac414646a329d2f4da0db1b1fb0c7367b1828648",
        "Created": "2017-09-14T08:12:51.322764417Z",
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv6": false,
        "IPAM": {
            "Driver": "default",
            "Options": null,
            "Config": [
                {
                    "Subnet": "172.17.0.0/16",
                    "Gateway": "172.17.0.1"
                }
            ]
        },
        "Internal": false,
        "Attachable": false,
        "Containers": {
            "7c1e5f2a9b3d9ba5a38a01b0e8f16982f04cfc56843619aa15d298cf22778591": {
                "Name": "alpine2",
                "EndpointID": "03f9630e70c3d11688bbdc0a219aa3a47f9e3872d96fb46492dec445af9d2754",
                "MacAddress": "02:42:ac:11:00:03",
                "IPv4Address": "172.17.0.3/16",
                "IPv6Address": ""
            },
            "e4a8b0c6d2f1fcf7de2e67fa6b0d1a57ab569dbe23065eee4fe09850eaa61830": {
                "Name": "alpine1",
                "EndpointID": "7dae497f86b03af2d2c752929aea4489ca4d38766bdc829c6a011bfcd89e5d66",
                "MacAddress": "02:42:ac:11:00:02",
                "IPv4Address": "172.17.0.2/16",
                "IPv6Address": ""
            }
        },
        "Options": {
            "com.docker.network.bridge.default_bridge": "true",
            "com.docker.network.bridge.enable_icc": "true",
            "com.docker.network.bridge.enable_ip_masquerade": "true",
            "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
            "com.docker.network.bridge.name": "docker0",
            "com.docker.network.driver.mtu": "1500"
        },
        "Labels": {}
    }
]
"#;

/// The same inspect on today's engine: the keys it added, other IDs (alpine1's now sorts first), alpine1
/// started second this time and got the other address.
pub(super) const NETWORK_INSPECT_NOW: &str = r#"[
    {
        "Name": "bridge",
        "Id": "a1b2c3d4e5f66b67c2e6b4fe247dc7ccfa7ac65f0f3df35f08f46584139e1298",
        "Created": "2026-11-26T09:58:01.412338072Z",
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv4": true,
        "EnableIPv6": false,
        "IPAM": {
            "Driver": "default",
            "Options": null,
            "Config": [
                {
                    "Subnet": "172.17.0.0/16",
                    "Gateway": "172.17.0.1"
                }
            ]
        },
        "Internal": false,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {
            "Network": ""
        },
        "ConfigOnly": false,
        "Containers": {
            "5d9f1b3e7a2c9c81092189bf631bbfeafb703b4c321c3e46e180334f7999a0d2": {
                "Name": "alpine1",
                "EndpointID": "818bdc100aa5ba78ee3404e4e005ccc386640ea4f7db8ef2537f79388ae8c0e8",
                "MacAddress": "02:42:ac:11:00:03",
                "IPv4Address": "172.17.0.3/16",
                "IPv6Address": ""
            },
            "b8e2a6c0f4d7c0e3aae1f2e9342a1469d23c1fdd87c47a7afa636e6edbd16370": {
                "Name": "alpine2",
                "EndpointID": "56631b316ba76550f1eddae102259c1495a5aaf7e9d65d9e91a4a10932b362b5",
                "MacAddress": "02:42:ac:11:00:02",
                "IPv4Address": "172.17.0.2/16",
                "IPv6Address": ""
            }
        },
        "Options": {
            "com.docker.network.bridge.default_bridge": "true",
            "com.docker.network.bridge.enable_icc": "true",
            "com.docker.network.bridge.enable_ip_masquerade": "true",
            "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
            "com.docker.network.bridge.name": "docker0",
            "com.docker.network.driver.mtu": "1500"
        },
        "Labels": {}
    }
]
"#;

/// busybox `wget` on an 80-column terminal, as a page shows it: a bar of 80 - 49 = 31 columns.
pub(super) const WGET_80: &str = r#"Connecting to web (172.17.0.2:80)
index.html           100% |*******************************|   615  0:00:00 ETA
"#;

/// The same download in docktest's 120-column terminal: a bar of 71 columns.
pub(super) const WGET_120: &str = r#"Connecting to web (172.17.0.3:80)
index.html           100% |***********************************************************************|   615  0:00:00 ETA
"#;
