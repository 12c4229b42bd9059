"""Per category: a title for people, what to check next, and remedy commands to propose.

Remedy commands are templates filled from the diagnosis target; a command
whose value is missing or unsafe is not proposed. Every proposed command is
judged by the guard before it is even suggested (conclude.py), and runs only
through the approval gate.
"""

from __future__ import annotations

TITLES: dict[str, str] = {
    "memory_leak": "a process leaks memory",
    "memory_pressure": "the host has too little memory for its load",
    "cpu_saturation": "CPU is saturated",
    "disk_full": "a filesystem is full",
    "inode_exhaustion": "a filesystem ran out of inodes",
    "disk_io_bottleneck": "disk I/O is the bottleneck",
    "db_connection_exhaustion": "the database ran out of connections",
    "connection_leak": "connections are opened and never released",
    "db_slow_query": "slow or blocked queries hold the database",
    "db_unreachable": "the database cannot be reached",
    "dns_failure": "names do not resolve",
    "network_unreachable": "a network path is broken",
    "dependency_failure": "an upstream dependency is failing",
    "missing_timeout": "calls without a timeout hang and pile up",
    "service_crashloop": "the service crashes and restarts in a loop",
    "config_error": "a configuration error breaks the service",
    "bad_deploy": "a new release introduced the fault",
    "certificate_expired": "a TLS certificate expired or does not verify",
    "permission_denied": "a permission is missing",
    "rate_limited": "a provider throttles requests",
    "capacity_exhausted": "the cluster has no room left",
    "terraform_state_lock": "a Terraform state lock blocks the run",
    "terraform_config_error": "the Terraform code is wrong",
    "resource_name_conflict": "a resource name is already taken",
    "unknown": "the evidence does not support a root cause yet",
}

NEXT_CHECKS: dict[str, list[str]] = {
    "memory_leak": ["capture a heap profile of {process} before restarting", "compare RSS of {process} over the next hour after the restart", "review changes to {service} since memory began to grow"],
    "memory_pressure": ["compare the host's memory with the sum of its workloads' needs", "check the container or instance memory limits", "look for a recent increase in traffic or worker count"],
    "cpu_saturation": ["identify what {process} is doing (profile or thread dump)", "check whether the load is real traffic (scale out) or a runaway loop (restart)", "check CPU credits / steal time on burstable instances"],
    "disk_full": ["`du -xh --max-depth=2 {mount}` to find what grew", "check log rotation and old artifacts", "grow the volume if usage grows steadily"],
    "inode_exhaustion": ["`find {mount} -xdev -type f` counts per directory to find the small-file pile", "check session, cache and mail-queue directories", "add a cleanup job for the directory that fills"],
    "disk_io_bottleneck": ["find the process doing the I/O (`pidstat -d`, `iotop`)", "check the volume's provisioned IOPS/throughput and burst balance", "move the hot workload or raise gp3 IOPS"],
    "db_connection_exhaustion": ["compare max_connections with (pool size x instances)", "check who holds the connections (processlist by host/user)", "check for a traffic spike or new instances"],
    "connection_leak": ["find the code path that acquires without releasing (finally/with)", "watch connection count per process after a restart", "enable the pool's leak detection"],
    "db_slow_query": ["EXPLAIN the longest running query", "check lock waits and the blocking transaction", "add the missing index through a reviewed migration"],
    "db_unreachable": ["check the DB instance state and recent events (failover, reboot)", "check security groups and the endpoint name", "test the port from the app host"],
    "dns_failure": ["`dig` the failing name against each resolver in resolv.conf", "check the record still exists (Route 53 / private zone)", "check the VPC resolver and DHCP options"],
    "network_unreachable": ["check the route table, security groups and NACLs on the path", "compare with a recent network or Terraform change", "test the path from another host in the same subnet"],
    "dependency_failure": ["check the upstream's health and status page", "check whether retries amplify the failure", "enable the circuit breaker or fallback"],
    "missing_timeout": ["find the call without a timeout (HTTP client, DB driver)", "count stuck workers/threads and what they wait on", "set connect and read timeouts and restart the stuck workers"],
    "service_crashloop": ["read the last exit code and the first error of each start", "check what changed just before the first crash", "run the service by hand once with the same environment"],
    "config_error": ["diff the running configuration with the last good one", "validate the configuration (`nginx -t`, schema checks)", "check required environment variables and secrets"],
    "bad_deploy": ["compare error rates before and after the release", "read the release's changes", "roll back to the previous version and confirm recovery"],
    "certificate_expired": ["check the certificate's notAfter and the chain served", "check why automatic renewal did not run", "renew and reload the server"],
    "permission_denied": ["read the exact action and resource from the AccessDenied message", "check the role's policy and any SCP or boundary", "grant the least permission that fixes it"],
    "rate_limited": ["find which API and quota is throttled", "add backoff with jitter", "request a quota increase if the load is legitimate"],
    "capacity_exhausted": ["check node group min/max/desired and pending pods' requests", "check subnet free IPs and account quotas", "scale the node group or right-size requests"],
    "terraform_state_lock": ["confirm the lock holder's run has ended (CI job, person)", "check the lock's age against the longest normal run", "force-unlock only with approval and evidence"],
    "terraform_config_error": ["run `terraform validate` in {dir}", "check the module's outputs and variable names", "fix the reference and re-plan"],
    "resource_name_conflict": ["check whether the existing resource is ours (import it) or another's (rename)", "check for a resource scheduled for deletion", "choose a new unique name"],
    "unknown": ["collect more evidence: logs around the alert time, the service's own status", "check recent changes (deploys, config, infrastructure)", "escalate to the service owner"],
}

