"""Text signals: phrases in logs, command errors and Terraform output that point at a category.

Each rule names the taxonomy category it supports, how strongly (weight, about
1 = suggestive, 2 = typical, 3 = decisive) and why. Rules match the message
shape the software really prints (MySQL 1040, glibc resolver errors, the
kernel OOM killer, kube-scheduler events ...), not the category's name, so a
log that merely mentions "memory" proves nothing. The analyzers weigh matches
by log level and count and combine them with parsed facts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class TextRule:
    id: str
    category: str
    weight: float
    pattern: re.Pattern[str]
    why: str
    needs: re.Pattern[str] | None = None  # lower-case literals one of which every match contains: a cheap pre-check
    finding: str = ""  # a refinement with its own remedy (config/remedies.yaml `findings`)
    level_blind: bool = False  # a statement of fact logged at INFO (a timing) counts like an error line


def _r(rule_id: str, category: str, weight: float, pattern: str, why: str, finding: str = "", level_blind: bool = False) -> TextRule:
    needs = NEEDS.get(rule_id)
    return TextRule(rule_id, category, weight, re.compile(pattern, re.I), why, re.compile("|".join(map(re.escape, needs))) if needs else None,
                    finding, level_blind)


# Pre-checks: a line holds a rule's match only if it holds one of these (tests/test_parsers.py checks that
# the pre-check never hides a match); they make scanning tens of thousands of lines cheap.
NEEDS: dict[str, tuple[str, ...]] = {
    'oom_killer': ('oom', 'out of memory'),
    'heap_oom': ('memory', 'heap', 'gc overhead'),
    'heap_growth': ('heap', 'memory', 'rss', 'leak', 'maxlisteners'),
    'killed_sigkill': ('signal', 'killed', '137', 'kill'),
    'redis_maxmemory': ('oom command', 'maxmemory'),
    'cannot_allocate': ('allocat', 'enomem', 'fork'),
    'swapping': ('swap', 'kswapd', 'memory'),
    'cpu_throttle': ('cpu', 'load average', 'lockup', 'stall', 'event loop', 'throttl'),
    'image_pull': ('imagepull', 'image', 'manifest', 'pull access', 'resolve reference', 'repository does not exist', 'basic auth', 'toomanyrequests', 'pull rate'),
    'enospc': ('space', 'enospc', 'disk', 'quota', 'extend file'),
    'inode_words': ('inode', 'iuse%'),
    'hung_task': ('blocked for', 'hung_task', 'i/o', 'slow', 'fsync', 'iowait', 'burstbalance', 'ebs', 'latency', 'await'),
    'io_error': ('i/o error', 'nvme', 'ext4-fs', 'xfs'),
    'too_many_connections': ('too many', 'er_con_count', '1040', 'connection slots', 'max_connections', 'connection limit'),
    'pool_timeout': ('pool', 'acquir', 'connection', 'obtain', 'resourcerequest'),
    'fd_exhaustion': ('open files', 'emfile', 'enfile', 'file descriptor', '(24'),
    'leak_words': ('leak', 'not released', 'not returned', 'not closed', 'unreleased', 'never', 'did not', 'close_wait', 'close-wait', 'idle in transaction'),
    'slow_words': ('query', 'queries', 'database', 'db', 'sql'),
    'slow_query': ('slow', 'query', 'long', 'duration:', 'lock wait', 'deadlock', 'canceling statement', 'metadata lock', 'statement timeout', 'table scan', 'missing index'),
    'db_refused': ('connect', 'mysql', 'gone away', 'communications link', 'database', 'db', 'postgres', 'rds', 'refused', 'failover', 'operationalerror', 'etimedout', 'unreachable', 'timed out'),
    'dns': ('resolv', 'resolution', 'enotfound', 'eai_again', 'nxdomain', 'servfail', 'name or service', 'no such host', 'unknownhost', 'unknown', 'nodename', 'resolve', 'translate host', 'dns', '2005', "can't find", 'lookup'),
    'sg_change': ('security_group', 'security group', 'network_acl', 'aws_route', 'securitygroup', 'deleteroute', 'networkaclentry', 'deletenatgateway'),
    'no_route': ('route', 'unreachable', 'ehostunreach', 'enetunreach', 'packet loss', 'security group', 'revokesecuritygroup', 'nacl', 'network acl', 'blackhole'),
    'connect_timeout': ('connect', 'dial tcp', 'syn-sent'),
    'timeout_generic': ('timed out', 'etimedout'),
    'local_upstream_slow': ('upstream timed out',),
    'upstream': ('upstream', 'live upstreams', '": context deadline', '": net/http', 'circuit', '-> 5', '=> 5', 'get /', 'post /', 'put /', 'patch /', 'delete /', 'get http', 'post http', '-service', '_service', '.service', '-api', '_api', '.api', '-svc', '_svc', '.svc', '-gateway', '_gateway', '.gateway', 'request ', 'call', 'fetch', 'dependency', 'third'),
    'read_timeout': ('timeout', 'timed out', 'deadline'),
    'gateway_5xx': ('502', '503', '504'),
    'refused': ('refused', 'econnreset', 'hang up'),
    'hang': ('hung', 'hang', 'stuck', 'blocked', 'never', 'no response', 'waiting', 'pool', 'busy', 'queue', 'pending', 'flight', 'timeout', 'polling', 'socketread', 'socketinputstream', 'still', 'took', 'duration', 'elapsed'),
    'crashloop': ('crashloop', 'back-off', 'repeated too quickly', 'restart', 'failed with result', 'main process exited', 'segfault', 'segmentation', 'core dump', 'sigsegv', 'panic', 'fatal error', 'exit', 'terminat'),
    'config': ('config', 'variable', 'env', 'setting', 'keyerror', 'invalid', 'bad', 'malformed', 'parse', 'unknown', '[emerg]', 'not found', "couldn't find", 'dsn', 'url', 'validationerror', 'mandatory', 'placeholder', 'no such file', 'is required', 'is not set', 'is missing', 'is undefined', 'is empty', 'is set', 'must be', 'missing', 'required', 'undefined', 'unset'),
    'clock_skew': ('issued', 'iat', 'nbf', 'skew', 'clock', 'not valid yet', 'not yet valid', 'too large', 'earlier than'),
    'cert': ('cert', 'issuer', 'x509', 'ssl', 'tls', 'handshake', 'pkix', 'self signed', 'self-signed', 'hostname mismatch', 'does not match'),
    'permission': ('denied', 'not authorized', 'unauthorized', 'permission', 'eacces', 'not permitted', 'eperm', 'forbidden', 'invalidclienttokenid', 'signaturedoesnotmatch', 'expiredtoken', 'authorizationerror', 'insufficient', '1045', 'authentication failed', 'pg_hba'),
    'http_403': ('403',),
    'kube_rbac': ('forbidden', 'cannot'),
    'rate': ('too many requests', 'throttl', 'rate', 'requestlimitexceeded', 'slowdown', 'toomanyrequests', 'provisionedthroughput', 'quota', 'backing off'),
    'http_429': ('429',),
    'capacity': ('insufficient', 'sufficient', 'nodes are available', 'failedscheduling', 'too many pods', 'node affinity', 'free ip', 'ip address', 'ipam', 'limitexceeded', 'quota', 'max', 'cluster-autoscaler', 'nottriggerscaleup', 'scale-up', 'unschedulable', 'maxpods', 'exhaust', 'assign an ip'),
    'tf_progress': ('still ', 'modifying...', 'creating...', 'destroying...', 'refreshing state...', 'acquiring state lock'),
    'tf_finished': ('apply complete!', 'destroy complete!', 'releasing state lock'),
    'tf_lock': ('lock', 'conditionalcheckfailed'),
    'tf_config': ('unsupported', 'undeclared', 'invalid', 'missing required', 'argument', 'block', 'module', 'unknown variable', 'incorrect attribute', 'dependency lock', 'duplicate resource', 'does not have an attribute'),
    'name_conflict': ('already', 'exists', 'duplicate', 'resourceinuse', 'deletion', 'name is', 'conflict'),
}


RULES: tuple[TextRule, ...] = (
    # ---------------------------------------------------------------- memory
    _r("oom_killer", "memory_leak", 1.0, r"invoked oom-killer|Out of memory: Kill(?:ed)? process|oom-kill:|Memory cgroup out of memory", "the kernel OOM killer acted"),
    _r("heap_oom", "memory_leak", 2.0, r"JavaScript heap out of memory|java\.lang\.OutOfMemoryError|OutOfMemoryError: Java heap space|MemoryError\b|fatal error: runtime: out of memory|Allocation failed - process out of memory|heap limit|GC overhead limit exceeded", "the runtime ran out of heap"),
    _r("heap_growth", "memory_leak", 1.2, r"heap (?:used|usage|size)\b.*\d|memory (?:usage )?(?:keeps )?(?:grow|increas|climb)|rss (?:grew|growing|increas)|possible (?:memory )?leak|MaxListenersExceededWarning|memory leak", "memory reported growing"),
    _r("killed_sigkill", "memory_leak", 0.8, r"(?:exited|terminated|killed) (?:with|by) signal (?:9|SIGKILL)|signal: killed|OOMKilled|exit code 137|code=killed, status=9/KILL", "a worker was SIGKILLed (the OOM killer's signal)"),
    _r("redis_maxmemory", "memory_pressure", 2.5, r"OOM command not allowed when used memory|used memory > 'maxmemory'", "Redis is at its maxmemory and refuses writes", finding="redis_maxmemory"),
    _r("cannot_allocate", "memory_pressure", 1.5, r"Cannot allocate memory|ENOMEM|page allocation failure|fork: retry: Resource temporarily unavailable|unable to allocate", "allocations fail host-wide"),
    _r("swapping", "memory_pressure", 0.8, r"\bswap(?:ping)? (?:usage|in|out|storm)|kswapd|low on memory|MemoryPressure|memory pressure|evicting pods?.*memory|The node was low on resource: memory", "the host is short of memory"),
    # ---------------------------------------------------------------- images
    _r("image_pull", "image_pull_failure", 3.0, r"ErrImagePull|ImagePullBackOff|Back-off pulling image|Failed to pull image|InvalidImageName|ErrImageNeverPull|manifest unknown|manifest for \S+ not found|pull access denied|failed to resolve reference|repository does not exist or may require|no basic auth credentials|toomanyrequests: You have reached your pull rate limit", "a container image cannot be pulled"),
    # ---------------------------------------------------------------- cpu
    _r("cpu_throttle", "cpu_saturation", 1.0, r"CPU throttl|CPUThrottlingHigh|cfs_throttled|nr_throttled|throttled_(?:periods|seconds)|cpu (?:usage|load) (?:at |is )?(?:9\d|100)\s*%|load average (?:is )?(?:very )?high|soft lockup|rcu_sched self-detected stall|event loop (?:lag|delay|blocked) (?:of )?\d", "CPU starvation reported"),
    # ---------------------------------------------------------------- disk
    _r("enospc", "disk_full", 2.5, r"No space left on device|ENOSPC|disk (?:is )?full|Disk quota exceeded|not enough (?:free )?(?:disk )?space|write failed.*space|could not extend file|DiskFull|filesystem (?:is )?full", "writes fail for lack of space"),
    _r("inode_words", "inode_exhaustion", 2.0, r"(?:out of|no (?:free )?|exhausted) inodes|inode (?:usage|exhaust|table)|inodes? (?:is |are )?(?:full|exhausted)|IUse%\s+100", "inodes reported exhausted"),
    _r("hung_task", "disk_io_bottleneck", 1.5, r"blocked for more than \d+ seconds|hung_task|I/O (?:wait|latency) (?:high|spike)|slow (?:disk|i/o|io)\b|fsync (?:took|slow)|iowait|BurstBalance|EBS (?:volume )?(?:throttl|burst)|disk latency|await \d{3,}", "I/O stalls"),
    _r("io_error", "disk_io_bottleneck", 1.0, r"blk_update_request: I/O error|Buffer I/O error|I/O error, dev|nvme.*timeout|EXT4-fs error|XFS .* metadata I/O error", "the block device reports errors"),
    # ---------------------------------------------------------------- database
    _r("too_many_connections", "db_connection_exhaustion", 2.5, r"Too many connections|ER_CON_COUNT_ERROR|ERROR 1040|too many clients already|remaining connection slots are reserved|too many connections for (?:role|database)|max_connections (?:reached|exceeded)|connection limit exceeded", "the database refuses new connections"),
    _r("pool_timeout", "db_connection_exhaustion", 1.5, r"pool (?:is )?exhausted|timeout acquiring (?:a )?connection|Timeout acquiring a connection|Connection is not available, request timed out|could not obtain (?:a )?(?:jdbc )?connection|QueuePool limit of size \d+ overflow \d+ reached|ResourceRequest timed out|unable to acquire (?:a )?connection|no (?:free|available|idle) connections?|waiting for (?:a )?(?:free )?connection|connection pool (?:is )?(?:full|exhausted)|pool timeout|PoolTimeoutError|all pooled connections were in use", "the client pool has no free connection"),
    _r("fd_exhaustion", "connection_leak", 2.0, r"Too many open files|EMFILE|ENFILE|file descriptors? (?:exhausted|limit)|accept4?\(\) failed \(24", "file descriptors run out"),
    _r("leak_words", "connection_leak", 1.5, r"connection(?:s)? (?:leak|not (?:released|returned|closed))|leak(?:ed)? connection|unreleased connection|connection was never (?:released|closed|returned)|did not (?:release|close) (?:the )?connection|Apparent connection leak|leakDetectionThreshold|CLOSE_WAIT|CLOSE-WAIT|idle in transaction", "connections are held and not released"),
    _r("slow_query", "db_slow_query", 2.0, r"slow query|Query_time:\s*\d|long[- ]running (?:query|transaction|statement)|query (?:took|exceeded)\s+\d|duration: \d{4,}(?:\.\d+)? ms|Lock wait timeout exceeded|ER_LOCK_WAIT_TIMEOUT|Deadlock found|deadlock detected|canceling statement due to (?:statement|lock) timeout|Waiting for table metadata lock|statement timeout|full table scan|missing index", "queries are slow or blocked"),
    _r("slow_words", "db_slow_query", 2.0, r"(?:database|db|sql|query|queries)\b[^\n]{0,60}?\b(?:took|completed in|finished in|returned in|ran for|running (?:for|after))\s+[1-9]\d*(?:\.\d+)?\s*(?:s|sec|secs|seconds)\b", "database calls take seconds, as the application says", level_blind=True),
    _r("db_refused", "db_unreachable", 2.0, r"Can't connect to (?:MySQL|MariaDB) server|ERROR 2003|Lost connection to MySQL server|MySQL server has gone away|could not connect to server|connection to server at .* failed|Communications link failure|the database system is (?:shutting down|starting up|in recovery mode)|(?:database|db|postgres|mysql|rds)\w*\b[^\n]{0,60}(?:ECONNREFUSED|connection refused|connect(?:ion)? timed out|ETIMEDOUT|unreachable|not reachable)|(?:ECONNREFUSED|connect ETIMEDOUT|connection refused|Connection timed out)[^\n]{0,40}:(?:3306|5432|1433|1521|27017)\b|SequelizeConnectionRefusedError|OperationalError.*(?:connect|Connection refused)|DB(?:Instance)? (?:is )?(?:stopped|unavailable|failing over)|failover (?:in progress|started)|Unable to obtain (?:a )?connection from (?:the )?database|PSQLException: The connection attempt failed|SQL ?State\s*:?\s*08001\b|SQLSTATE\[08006\]", "the database does not answer"),
    # ---------------------------------------------------------------- network
    _r("dns", "dns_failure", 2.5, r"Temporary failure in name resolution|getaddrinfo (?:ENOTFOUND|EAI_AGAIN)|\bEAI_AGAIN\b|\bENOTFOUND\b|NXDOMAIN|SERVFAIL|Name or service not known|no such host|Could not resolve host|UnknownHostException|Unknown (?:MySQL )?server host|nodename nor servname|Name does not resolve|could not translate host name|DNS (?:resolution|lookup) (?:failed|timed out|error)|failed to resolve(?! reference)|unable to resolve|ERROR 2005|server can't find|dial tcp: lookup \S+|lookup [\w.-]+ on [\d.:]+:53|no such host", "names do not resolve"),
    _r("no_route", "network_unreachable", 2.5, r"No route to host|EHOSTUNREACH|Network is unreachable|ENETUNREACH|Destination (?:Host|Net) Unreachable|\b[1-9]\d*(?:\.\d+)?% packet loss|security group (?:rule )?(?:removed|revoked|deleted|changed)|RevokeSecurityGroup(?:Ingress|Egress)|(?:NACL|network ACL)\b[^\n]{0,40}(?:deny|DENY|changed|updated)|route\b[^\n]{0,30}(?:blackhole|missing|deleted|removed)|Destination unreachable", "the network path is broken"),
    _r("sg_change", "network_unreachable", 2.0, r"aws_(?:vpc_)?security_group(?:_ingress|_egress)?_rule\S*: Destr(?:oying|uction complete)|aws_(?:network_acl|route)\S*: (?:Destr|Modif)|(?:Revoke|Delete)SecurityGroup(?:Ingress|Egress|Rule)|DeleteRoute\b|DeleteNatGateway|ReplaceNetworkAclEntry|CreateNetworkAclEntry.*deny|security group rule[^\n]{0,40}(?:removed|revoked|deleted|destroyed)", "a network rule on the path was removed or changed"),
    _r("connect_timeout", "network_unreachable", 1.6, r"connect ETIMEDOUT|connect timed out|ConnectTimeout(?:Error|Exception)?|connection attempt timed out|dial tcp [^ ]+: (?:i/o timeout|connect: connection timed out)|SYN-SENT sockets? (?:pil|grow)|timed out while connecting", "connection attempts time out"),
    _r("timeout_generic", "network_unreachable", 0.8, r"(?<!110: )Connection timed out|\bETIMEDOUT\b", "connections time out"),
    _r("local_upstream_slow", "missing_timeout", 0.8, r"upstream timed out[^\n]*while reading[^\n]*upstream: \"?https?://(?:127\.0\.0\.1|localhost|\[::1\])", "the local application does not answer the proxy in time"),
    _r("upstream", "dependency_failure", 2.0, r"upstream (?:server )?(?:returned|responded|error|failed|unavailable|connect error|prematurely closed|timed out)(?![^\n]*upstream: \"?https?://(?:127\.0\.0\.1|localhost|\[::1\]|unix:))|circuit ?breaker\b[^\n]{0,40}?\b(?:is )?(?:open|opened|tripped)\b|\b(?:GET|POST|PUT|PATCH|DELETE) (?:https?://\S+|/\S*) ?(?:->|=>|returned|responded|status)\W{0,3}5\d\d|CircuitBreakerOpen|BrokenCircuitException|no healthy upstream|no live upstreams|\b[\w.-]+[-_.](?:service|api|svc|gateway)\b[^\n]{0,80}(?:returned|responded|failed|error|status)\W{0,3}(?:5\d\d|unavailable)|(?:request|call|calling|fetch|fetching) (?:to )?\S+[^\n]{0,60}(?:returned|responded|failed with|status(?: code)?)\W{0,3}5\d\d|\b(?:Get|Post|Put|Patch|Delete) \"https?://[^\"\s]+\": (?:context deadline exceeded|net/http: request canceled|net/http: timeout awaiting response headers)|dependency (?:failed|unavailable|down|unhealthy)|third[- ]party (?:api|service) (?:error|down|failing)", "an upstream dependency fails"),
    _r("read_timeout", "dependency_failure", 1.5, r"timeout of \d+ ?ms exceeded|ReadTimeout(?:Error|Exception)?\b|read timed out|Read timed out|context deadline exceeded|upstream request timeout|request timed out after \d+|ESOCKETTIMEDOUT|deadline exceeded while awaiting", "calls to an upstream time out waiting for an answer"),
    _r("gateway_5xx", "dependency_failure", 1.0, r"\b(?:502 Bad Gateway|503 Service Unavailable|504 Gateway Time-?out)\b|(?:status(?: code)?|code|HTTP|returned|responded|got)[=: /]+(?:502|503|504)\b", "a gateway got no good answer from behind it"),
    _r("refused", "dependency_failure", 1.2, r"ECONNREFUSED|Connection refused|connect: connection refused|ECONNRESET|socket hang up", "a peer refuses or resets connections"),
    _r("hang", "missing_timeout", 2.0, r"(?:request|call|handler|thread|worker|socket)s? (?:hung|hang(?:ing)?|stuck|blocked|never (?:returned|completed|responded))|no response (?:after|for|in) \d|waiting (?:for (?:a )?response )?(?:for )?\d{3,}\s*(?:s|sec|seconds)|(?:thread|worker|connection) pool (?:saturated|exhausted).*(?:waiting|blocked)|all (?:\d+ )?(?:workers|threads) (?:are )?busy|request queue (?:full|growing)|pending requests? (?:growing|piling)|in-?flight requests?\W+\d{3,}|without (?:a )?timeout|no timeout (?:set|configured)|timeout (?:is )?not set|WORKER TIMEOUT|long[- ]polling? (?:stuck|hung)|socketRead0|SocketInputStream\.(?:socketRead|read)|stuck (?:on|in|waiting)|still (?:pending|waiting|running) after|pending for \d{3,}|took \d{5,}\s*ms|(?:took|duration|elapsed)[=: ]+\d{3,}(?:\.\d+)?\s*s\b", "calls hang with no timeout"),
    # ---------------------------------------------------------------- runtime
    _r("crashloop", "service_crashloop", 2.0, r"CrashLoopBackOff|Back-off restarting failed container|start request repeated too quickly|Start request repeated too quickly|restart counter is at \d+|Failed with result '(?:exit-code|core-dump|signal|start-limit-hit)'|Main process exited, code=(?:exited|dumped|killed)|segfault at|Segmentation fault|core dumped|SIGSEGV|panic: |fatal error: |exited with (?:code|status) [1-9]\d*|unexpected(?:ly)? (?:exit|terminat)|process exited unexpectedly|restarting \(attempt \d+|Restarting \(\d+\)|keeps restarting|Unhandled(?:Promise)?Rejection.*exit", "the process exits repeatedly"),
    _r("config", "config_error", 2.5, r"config(?:uration)? validation (?:failed|error)|Failed to load environment files|Failed to (?:open|read) environment file|\b[A-Z][A-Z0-9_]{2,} (?:is|must be) (?:required|not set|missing|undefined|empty|set)\b|(?:missing|undefined|unset|required) (?:required )?(?:environment )?(?:variable|env var|setting|config(?:uration)? (?:key|value|option))|environment variable \S+ (?:is )?(?:not set|missing|required|undefined)|KeyError: '[A-Z][A-Z0-9_]+'|(?:invalid|bad|malformed) (?:config(?:uration)?|setting|value for)|config(?:uration)? (?:file )?(?:error|invalid|parse error|not found|could not be (?:loaded|parsed))|(?:yaml|json|toml|ini)\w* (?:parse|syntax|decode) error|could not parse (?:config|configuration|settings)|unknown (?:directive|option|configuration key|setting)|\[emerg\]|configuration file \S+ test failed|CreateContainerConfigError|configmaps? \"[^\"]+\" not found|secrets? \"[^\"]+\" not found|couldn't find key \S+ in (?:ConfigMap|Secret)|invalid (?:connection string|DSN|URL)|ValidationError: .*(?:config|settings)|mandatory (?:parameter|setting)|Could not resolve placeholder|(?:config|conf|settings)[\w./-]*'?:? (?:No such file or directory|not found)|No such file or directory[^\n]{0,60}(?:config|\.ya?ml|\.json|\.conf\b|\.env|\.ini|\.toml)|unknown (?:field|key) [\"'`]?\w+[\"'`]? in (?:config|settings)|Error\(s\) found in configuration file|Fatal errors found in configuration|config(?:uration)? (?:check|test) failed|(?:directive|keyword|option) [\"'`]?\S+[\"'`]? (?:is )?(?:not supported|no longer supported|deprecated and removed|removed)|(?:is )?not supported anymore", "the configuration is wrong or missing"),
    _r("clock_skew", "config_error", 2.0, r"used before issued|\biat\b[^\n]{0,40}(?:in the future|before|not valid)|issued (?:at )?in the future|token (?:is )?not (?:valid|active) yet|Token not yet valid|\bnbf\b[^\n]{0,40}(?:in the future|not (?:yet )?valid)|clock skew|RequestTimeTooSkewed|Signature (?:not yet current|expired): \S+ is now (?:earlier|later) than|difference between the request time and the current time is too large|clock (?:is )?(?:behind|ahead|out of sync|drift(?:ed|ing)?)|Clock skew too great|KRB_AP_ERR_SKEW", "the host's clock disagrees with its peers' (tokens or signatures judged against it fail)", finding="clock_unsynchronized"),
    _r("cert", "certificate_expired", 3.0, r"certificate (?:has )?expired|CERT_HAS_EXPIRED|certificate is not yet valid|x509: certificate has expired|SSL certificate problem|certificate verify failed|unable to verify the first certificate|tlsv1 alert|sslv3 alert certificate expired|handshake fail(?:ure|ed)|TLS handshake (?:error|timeout|failed)|ERR_CERT_|certificate (?:is )?(?:not valid|invalid|revoked)|x509: certificate is valid for|hostname mismatch|does not match (?:the )?(?:host|common) ?name|SSLHandshakeException|PKIX path (?:building|validation) failed|self[- ]signed certificate|CERTIFICATE_VERIFY_FAILED|unable to get local issuer certificate|ERR_TLS_CERT_ALTNAME_INVALID", "TLS certificate problems"),
    _r("permission", "permission_denied", 2.5, r"AccessDenied|Access Denied|AccessDeniedException|is not authorized to perform|UnauthorizedOperation|UnauthorizedAccess|not authorized to|Permission denied|EACCES|Operation not permitted|EPERM\b|forbidden: User|InvalidClientTokenId|SignatureDoesNotMatch|ExpiredToken|AuthorizationError|insufficient (?:privileges|permissions)|Access denied for user|ERROR 1045|permission denied for (?:table|relation|schema|database)|password authentication failed for user|authentication failed for user|FATAL:\s+no pg_hba\.conf entry", "an operation is refused for lack of permission"),
    _r("kube_rbac", "permission_denied", 2.5, r'is forbidden: User \\?"system:serviceaccount:|cannot (?:list|get|watch|create|update|patch|delete) resource \\?"\w+', "the Kubernetes API refuses a service account (RBAC)", "kube_rbac"),
    _r("read_only_fs", "permission_denied", 2.5, r"Read-only file system|\bEROFS\b|No usable temporary directory found|cannot create temp(?:orary)? (?:file|dir)|mkdir [^\n]{0,80}: read-only", "the process may not write where it must (a read-only filesystem, no writable temp dir)", "read_only_filesystem"),
    _r("credential_rejected", "config_error", 2.5, r"(?:API|access|secret|license) key (?:has )?(?:expired|been revoked|is (?:invalid|expired|revoked))|(?:invalid|expired|revoked) (?:API|access) key|UNAUTHORIZED_KEY|invalid_client|token (?:has )?expired(?! in)|401 Unauthorized[^\n]{0,80}(?:expired|invalid|revoked)", "a credential the service presents is expired or revoked", "credential_rejected"),
    _r("http_403", "permission_denied", 1.0, r"403 Forbidden|status(?: code)?[ :=]+403\b", "HTTP 403 answers"),
    _r("rate", "rate_limited", 2.5, r"Too Many Requests|Throttl(?:ing|ed)Exception|\bThrottling\b|Rate exceeded|RequestLimitExceeded|TooManyRequestsException|SlowDown|rate[- ]?limit(?:ed|ing)? (?:exceeded|reached|hit)|rate[- ]limited|request rate too (?:high|large)|ProvisionedThroughputExceeded|RequestThrottled|quota (?:exceeded|exhausted) for (?:requests|api)|backing off.*(?:throttl|429|rate)", "a provider throttles requests"),
    _r("http_429", "rate_limited", 1.5, r"(?:status|code|HTTP|returned|responded|got)\W{0,3}429\b|\s429\s+\d+\s", "HTTP 429 answers"),
    _r("capacity", "capacity_exhausted", 2.5, r"Insufficient (?:cpu|memory|pods|nvidia)|\d+/\d+ nodes are available|FailedScheduling|Too many pods|didn't match (?:Pod's )?node affinity|InsufficientFreeAddressesInSubnet|InsufficientInstanceCapacity|failed to assign an IP address|no free IPs?|IP address(?:es)? exhausted|ip(?:am)? exhaust|VcpuLimitExceeded|(?<!Request)(?<!Backoff)LimitExceeded|quota (?:exceeded|reached)|exceeded quota|max(?:imum)? (?:node group )?size (?:reached|of \d+ reached)|max node group size|cluster-autoscaler.*(?:max|cannot|failed)|NotTriggerScaleUp|pod didn't trigger scale-up|unschedulable|maxPods|(?:do not|don't) have sufficient \S+ capacity", "no room for more work (nodes, IPs, quota)"),
    # ---------------------------------------------------------------- terraform
    _r("tf_lock", "terraform_state_lock", 3.0, r"Error acquiring the state lock|state (?:is )?locked|ConditionalCheckFailedException|Lock Info:|Error locking state", "a Terraform state lock is held"),
    _r("tf_progress", "terraform_state_lock", 0.8, r"Still (?:modifying|creating|destroying|reading)\.\.\.|: (?:Modifying|Creating|Destroying|Refreshing state)\.\.\.|Acquiring state lock", "a Terraform run is (or was) in progress"),
    _r("tf_finished", "terraform_state_lock", 0.3, r"Apply complete!|Destroy complete!|Releasing state lock", "a Terraform run finished"),
    _r("tf_config", "terraform_config_error", 3.0, r"Unsupported attribute|Reference to undeclared|Invalid reference|Unsupported argument|Missing required argument|Unsupported block type|Argument or block definition required|Invalid block definition|Missing required provider|Module not installed|Unreadable module directory|Invalid value for (?:input )?variable|Unknown variable|Invalid function argument|Incorrect attribute value type|Inconsistent dependency lock file|Error: Invalid |Duplicate resource .* configuration|This object does not have an attribute", "the Terraform code is wrong"),
    _r("name_conflict", "resource_name_conflict", 3.0, r"already exists|AlreadyExists|EntityAlreadyExists|BucketAlreadyExists|BucketAlreadyOwnedByYou|Duplicate(?:d)?(?:Resource|Name)|InvalidGroup\.Duplicate|ResourceInUseException|scheduled for deletion|pending deletion|ResourceExistsException|name (?:is )?already (?:taken|in use)|DBInstanceAlreadyExists|DBSubnetGroupAlreadyExists|ResourceConflictException", "a resource name is taken"),
)

RULES_BY_ID: dict[str, TextRule] = {rule.id: rule for rule in RULES}

# A line one specific rule explains is not also evidence for the rules its words merely resemble: an image pull's
# "failed to resolve reference" or "no such host" is not DNS, its "pull access denied" is not IAM; "CPU throttling"
# is not a provider's rate limit.
SUPERSEDES: dict[str, tuple[str, ...]] = {
    "image_pull": ("dns", "permission", "http_403", "no_route", "connect_timeout", "timeout_generic", "refused", "rate", "http_429",
                   "read_timeout", "config", "gateway_5xx", "upstream"),
    "cpu_throttle": ("rate",),
    "kube_rbac": ("permission",),
    "slow_words": ("hang",),  # a query that runs long is the database's slowness, not a call without a timeout
}

# Markers: lines that say a change happened (the timeline needs them; they are not a category by themselves).
DEPLOY_MARKER = re.compile(
    r"\b(?:deploy(?:ed|ing|ment (?:of|started|completed|finished|succeeded))|released? (?:version |v)?\d|release [\w.-]*\d|rolled out|rolling (?:out|update)|rollout|"
    r"upgrad(?:ed|ing) (?:to|from) |new (?:version|release|image)|image (?:updated|changed|set)|updated image|Successfully pulled image|"
    r"Scaled up replica set|task definition|updated service|set image|helm upgrade|argo ?cd|sync(?:ed)? to revision|new revision|revision \d+ (?:rolled|deployed)|(?:starting|started|running|booting)\b[^\n]{0,40}\bversion\b|version \S+ (?:started|starting|deployed|live)|"
    r"(?:build|release|commit)[ :]+[0-9a-f]{7,}|version[ :=]+v?\d+\.\d+)", re.I)
VERSION = re.compile(r"(?<![\w.])v?(\d+\.\d+(?:\.\d+)?(?:[-+][\w.]+)?)(?![\w.])|(?:version|image|release|tag|revision|commit)[ :=/]+[\w./-]*?[:@]?([0-9a-f]{7,40})\b", re.I)
CONFIG_MARKER = re.compile(
    r"\b(?:config(?:uration)? (?:reloaded|changed|updated|applied|change)|reload(?:ed|ing) config(?:uration)?|"
    r"(?:configmap|secret|parameter group|feature flag|env(?:ironment)? vars?)\b[^\n]{0,40}\b(?:updated|changed|modified|applied|edited)|"
    r"applied (?:new )?(?:config|settings)|SIGHUP)", re.I)

LEVEL = re.compile(
    r"\b(?P<level>EMERG|EMERGENCY|ALERT|CRIT(?:ICAL)?|FATAL|PANIC|SEVERE|ERR(?:OR)?|WARN(?:ING)?|NOTICE|INFO|DEBUG|TRACE)\b"
    r"|level[=:]\"?(?P<kv>[a-z]+)|\"level\"\s*:\s*\"(?P<json>[a-z]+)\"", re.I)
LEVEL_NAMES = {
    "emerg": "error", "emergency": "error", "alert": "error", "crit": "error", "critical": "error", "fatal": "error",
    "panic": "error", "severe": "error", "err": "error", "error": "error", "warn": "warn", "warning": "warn",
    "notice": "info", "info": "info", "debug": "debug", "trace": "debug",
}
HTTP_5XX = re.compile(r"\"\s(5\d\d)\s|\bstatus[=: ]+5\d\d\b|\s5\d\d\s+\d+\s+\"")
ERRORISH = re.compile(r"\b(?:exception|traceback|error|failed|failure|fatal|refused|denied|cannot|could not|unable to|timed out|timeout)\b", re.I)


def line_level(line: str) -> str:
    """error | warn | info | debug | unknown (lines with no level word are judged by their words)."""
    m = LEVEL.search(line[:200])
    if m:
        word = (m.group("level") or m.group("kv") or m.group("json") or "").lower()
        level = LEVEL_NAMES.get(word)
        if level:
            return level
    if HTTP_5XX.search(line):
        return "error"
    if ERRORISH.search(line):
        return "unknown_error"
    return "unknown"


def match_rules(text: str) -> list[TextRule]:
    """Every rule whose pattern occurs in `text`."""
    low = text.lower()
    found = [rule for rule in RULES if (rule.needs is None or rule.needs.search(low)) and rule.pattern.search(text)]
    return _without_superseded(found)


def _without_superseded(found: list[TextRule]) -> list[TextRule]:
    dropped = {other for rule in found for other in SUPERSEDES.get(rule.id, ())}
    return [rule for rule in found if rule.id not in dropped] if dropped else found


def match_rules_slowly(text: str) -> list[TextRule]:
    """Without the pre-check: the reference the pre-check is tested against."""
    return _without_superseded([rule for rule in RULES if rule.pattern.search(text)])


def find_version(line: str) -> str | None:
    m = VERSION.search(line)
    if not m:
        return None
    return m.group(1) or m.group(2)
