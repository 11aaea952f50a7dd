package errenvelope

// The scrubbing table (SPEC §14): upstream messages as real frameworks,
// drivers and libraries print them, leaks and look-alikes, each with what
// the client must read. A leak row's want is the message with the secret
// replaced, or "" when the message is withheld; a look-alike (keep) row
// must come through unchanged. Strings marked "real" are the output of the
// library named (run, or read from its source), with made-up secrets.

// scrubCase is one row: the detector it tests, whether it is a leak, the
// upstream's message and what the client reads of it.
type scrubCase struct {
	det  detectors
	leak bool
	in   string
	want string // for a leak: the scrubbed text, "" when withheld
}

func leak(det detectors, in, want string) scrubCase { return scrubCase{det, true, in, want} }
func keep(det detectors, in string) scrubCase       { return scrubCase{det, false, in, in} }

const jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"

var scrubCases = []scrubCase{
	// --- credentials: leaks ---
	// The leaks: a Go *url.Error with a Google key, a libpq URL, an echoed JWT.
	leak(detCredentials, `Get "https://api.maps.example.com/v1/geo?key=AIzaSyA1234567890abcdefghijklmnopqrstuv": dial tcp 10.0.0.5:443: i/o timeout`,
		`Get "https://api.maps.example.com/v1/geo?key=[REDACTED]": dial tcp [REDACTED]: i/o timeout`),
	leak(detCredentials, `invalid credentials for postgres://app:s3cr3t@users-db.default.svc.cluster.local:5432/app`,
		`invalid credentials for postgres://app:[REDACTED]@[REDACTED]/app`),
	leak(detCredentials, `Authorization header Bearer `+jwt+` rejected`, `Authorization header Bearer [REDACTED] rejected`),
	// real: Go net/http timeout with a Stripe key in the query
	leak(detCredentials, `Get "https://api.stripe.example/v1/charges?api_key=sk_live_FAKE00000000000000001234": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
		`Get "https://api.stripe.example/v1/charges?api_key=[REDACTED]": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`),
	// real: Go masks a URL password as *** but not a JWT in the query
	leak(detCredentials, `Get "http://svc-user:***@api.example.com/internal/admin?access_token=`+jwt+`": EOF`,
		`Get "http://svc-user:***@api.example.com/internal/admin?access_token=[REDACTED]": EOF`),
	// real: a token used as the URL's user name is printed in full
	leak(detCredentials, `Get "https://ghp_FAKE0000000000000000000000000000TEST@api.github.com/repos/acme/api/contents/config.yml": EOF`,
		`Get "https://[REDACTED]@api.github.com/repos/acme/api/contents/config.yml": EOF`),
	// real: url.Parse echoes a DSN whose password has an unescaped %
	leak(detCredentials, `parse "postgres://app:S3cret%zzPass@db.example.com:5432/app?sslmode=require": invalid URL escape "%zz"`,
		`parse "postgres://app:[REDACTED]@db.example.com:5432/app?sslmode=require": invalid URL escape "%zz"`),
	// a DSN cut short after its password
	leak(detCredentials, `cannot connect to postgres://app:S3cretPass9`, `cannot connect to postgres://app:[REDACTED]`),
	keep(detCredentials, `see http://example.com:8080/docs`),
	// real: pgx keyword/value DSN
	leak(detCredentials, "cannot parse `host=db.example.com user=app password=hunter2 dbname=app port=notaport`: invalid port",
		"cannot parse `host=db.example.com user=app password=[REDACTED] dbname=app port=notaport`: invalid port"),
	// real: JDBC URL parameter (PostgreSQL driver)
	leak(detCredentials, `No suitable driver found for jdbc:postgresql://db.example.com:5432/app?user=app&password=secret`,
		`No suitable driver found for jdbc:postgresql://db.example.com:5432/app?user=app&password=[REDACTED]`),
	// real: MongoDB driver, Redis client (password-only userinfo)
	leak(detCredentials, `Could not connect to database using connectionString: mongodb+srv://app:Pa55word@cluster0.abcde.mongodb.net/app`,
		`Could not connect to database using connectionString: mongodb+srv://app:[REDACTED]@cluster0.abcde.mongodb.net/app`),
	leak(detCredentials, `Unable to connect to: redis://secretPassword@prod.example.com:6379`,
		`Unable to connect to: redis://[REDACTED]@prod.example.com:6379`),
	// real: python requests echoes a header value
	leak(detCredentials, `Invalid leading whitespace, reserved character(s), or return character(s) in header value: ' Bearer rk_live_FAKE00000000000000001234'`,
		`Invalid leading whitespace, reserved character(s), or return character(s) in header value: ' Bearer [REDACTED]'`),
	// real: axios error toJSON() returned as the message
	leak(detCredentials, `{"Accept":"application/json","Authorization":"Bearer sk_live_FAKE00000000000000001234","User-Agent":"axios/1.21.1"}`,
		`{"Accept":"application/json","Authorization":"Bearer [REDACTED]","User-Agent":"axios/1.21.1"}`),
	leak(detCredentials, `Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l was rejected`, `Authorization: Basic [REDACTED] was rejected`),
	leak(detCredentials, `Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b is not valid`, `Authorization: Token [REDACTED] is not valid`),
	// well-known key formats
	leak(detCredentials, `InvalidClientTokenId: key AKIAIOSFODNN7EXAMPLE is not valid`, `InvalidClientTokenId: key [REDACTED] is not valid`),
	leak(detCredentials, `session ASIAY34FZKBOKMUTVV7A has expired`, `session [REDACTED] has expired`),
	leak(detCredentials, `Incorrect API key provided: sk-proj-abc123DEF456ghi789JKL012mno345.`, `Incorrect API key provided: [REDACTED].`),
	leak(detCredentials, `token gho_16C7e42F292c6912E7710c838347Ae178B4a rejected`, `token [REDACTED] rejected`),
	leak(detCredentials, `pat github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123 expired`, `pat [REDACTED] expired`),
	leak(detCredentials, `401 Unauthorized for glpat-xxxxXXXX1234yyyyZZZZ on gitlab.example.com`, `401 Unauthorized for [REDACTED] on gitlab.example.com`),
	leak(detCredentials, `slack: invalid_auth for xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx`, `slack: invalid_auth for [REDACTED]`),
	leak(detCredentials, `bad JWT `+jwt, `bad JWT [REDACTED]`),
	// name=value and quoted pairs
	leak(detCredentials, `login failed: password=hunter2&user=bob`, `login failed: password=[REDACTED]&user=bob`),
	leak(detCredentials, `config error: DB_PASSWORD=s3cr3t-Pa55 is not allowed`, `config error: DB_PASSWORD=[REDACTED] is not allowed`),
	leak(detCredentials, `GET https://acct.blob.example.com/c/b?sv=2022-11-02&sig=AbC%2Bdef123%3D failed`, `GET https://acct.blob.example.com/c/b?sv=2022-11-02&sig=[REDACTED] failed`),
	leak(detCredentials, `invalid request {"client_id":"web","client_secret":"abc123xyz"}`, `invalid request {"client_id":"web","client_secret":"[REDACTED]"}`),
	leak(detCredentials, `unexpected field in {'username': 'bob', 'password': 'hunter2'}`, `unexpected field in {'username': 'bob', 'password': '[REDACTED]'}`),
	leak(detCredentials, `bad payload {\"apiKey\":\"k-123456\"}`, `bad payload {\"apiKey\":\"[REDACTED]\"}`),
	leak(detCredentials, `header X-Api-Key="a1b2c3d4e5" refused`, `header X-Api-Key="[REDACTED]" refused`),
	leak(detCredentials, `missing scope for x-api-key: 4f9a2c7e1b8d3f6a0e5c9b2d7a4f1e8c`, `missing scope for x-api-key: [REDACTED]`),
	// a generated password with / + = in it, as openssl rand -base64 makes them
	leak(detCredentials, `dial error for postgres://app:k9Xy/2LmPq8Rw+Zt4Vb==@10.0.0.5:5432/app`, `dial error for postgres://app:[REDACTED]@[REDACTED]/app`),
	// real: Google's answer to a bad key, the key followed by a full stop
	leak(detCredentials, `API key not valid: AIzaSyA1234567890abcdefghijklmnopqrstuv. Please pass a valid API key.`, `API key not valid: [REDACTED]. Please pass a valid API key.`),
	leak(detCredentials, `bad key -----BEGIN RSA PRIVATE KEY----- Proc-Type: 4,ENCRYPTED DEK-Info: AES-128-CBC,3F17A2 MIIEowIBAAKCAQEA -----END RSA PRIVATE KEY-----`, `bad key [REDACTED]`),
	leak(detCredentials, `unexpected {"secretKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`, `unexpected {"secretKey":"[REDACTED]"}`),
	leak(detCredentials, `credentials {"AccessKeyId":"AKIAIOSFODNN7EXAMPLE","SecretAccessKey":"wJalrXUtnFEMI"}`, `credentials {"AccessKeyId":"[REDACTED]","SecretAccessKey":"[REDACTED]"}`),
	// PEM private keys, whole or cut short
	leak(detCredentials, `invalid key -----BEGIN RSA PRIVATE KEY----- MIIEpAIBAAKCAQEA7bq8Jm3x2nQz -----END RSA PRIVATE KEY----- rejected`, `invalid key [REDACTED] rejected`),
	leak(detCredentials, `cannot parse -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU`, `cannot parse [REDACTED]`),

	// --- credentials: look-alikes ---
	keep(detCredentials, `token expired`),
	keep(detCredentials, `Invalid API key`),
	keep(detCredentials, `"password" length must be at least 8 characters long`), // Joi
	keep(detCredentials, `password: field required`),                             // Pydantic v1, as apps join it
	keep(detCredentials, `token: expired`),
	keep(detCredentials, `api_key: must be a string of 32 characters`),
	keep(detCredentials, `Invalid token: TokenExpiredError`), // jsonwebtoken's error names
	keep(detCredentials, `invalid signature: SignatureDoesNotMatch`),
	keep(detCredentials, `signature: HMAC-SHA256 expected`),
	keep(detCredentials, `Expected Basic auth/Bearer token`),
	keep(detCredentials, `Bearer realm=api`),
	keep(detCredentials, `Missing Bearer token`),
	keep(detCredentials, `Unexpected token } in JSON at position 42`), // body-parser
	keep(detCredentials, `CSRF token missing or incorrect.`),
	keep(detCredentials, `CSRF Failed: CSRF token missing or incorrect.`), // Django REST
	keep(detCredentials, `Invalid token.`),
	keep(detCredentials, `Given token not valid for any token type`), // simplejwt
	keep(detCredentials, `Authentication credentials were not provided.`),
	keep(detCredentials, `Full authentication is required to access this resource`), // Spring Security
	keep(detCredentials, `Bad credentials`),
	keep(detCredentials, `The security token included in the request is invalid.`), // AWS
	keep(detCredentials, `The request signature we calculated does not match the signature you provided. Check your key and signing method.`),
	keep(detCredentials, `Invalid API Key provided: sk_test_**********************Aso0`), // Stripe masks keys itself
	keep(detCredentials, `Incorrect API key provided: sk-FAKE0***************************************TEST.`),
	keep(detCredentials, "cannot parse `postgres://app:xxxxx@db.example.com:5432/app`: failed to parse as URL"),                                             // pgx masks passwords
	keep(detCredentials, `Driver org.postgresql.Driver claims to not accept jdbcUrl, jdbc:postgresql://db.example.com:5432/app?user=app&password=<masked>`), // HikariCP
	keep(detCredentials, `The password field must be at least 8 characters.`),                                                                               // Laravel
	keep(detCredentials, `body must have required property 'password'`),                                                                                     // Fastify
	keep(detCredentials, `secret must be a string`),
	keep(detCredentials, `The api_key parameter is required`),
	keep(detCredentials, `Token authentication failed`),
	keep(detCredentials, `Bearer realm="example", error="invalid_token"`),
	keep(detCredentials, `max_tokens=4096 exceeds the limit`),
	keep(detCredentials, `Use the key=value form`),
	keep(detCredentials, `String should match pattern '^-----BEGIN PRIVATE KEY-----'`), // pydantic
	keep(detCredentials, `ERR AUTH <password> called without any password configured for the default user.`),
	keep(detCredentials, `Access denied (using password: NO)`),
	keep(detCredentials, `Missing required parameter: signature`),
	keep(detCredentials, `Idempotency-Key header is required`),

	// --- addresses: leaks ---
	leak(detAddresses, `dial tcp 10.0.0.5:5432: connect: connection refused`, `dial tcp [REDACTED]: connect: connection refused`),
	leak(detAddresses, `dial tcp 172.20.3.4:6379: i/o timeout`, `dial tcp [REDACTED]: i/o timeout`),
	leak(detAddresses, `Post "http://192.168.1.20:8080/v1/orders": context deadline exceeded`, `Post "http://[REDACTED]/v1/orders": context deadline exceeded`),
	leak(detAddresses, `connect ECONNREFUSED 127.0.0.1:3000`, `connect ECONNREFUSED [REDACTED]`),
	leak(detAddresses, `dial tcp 100.64.12.7:443: connect: no route to host`, `dial tcp [REDACTED]: connect: no route to host`),
	leak(detAddresses, `Put "http://169.254.169.254/latest/api/token": dial tcp 169.254.169.254:80: i/o timeout`, `Put "http://[REDACTED]/latest/api/token": dial tcp [REDACTED]: i/o timeout`),
	leak(detAddresses, `dial tcp [fd00::1]:5432: connect: connection refused`, `dial tcp [REDACTED]: connect: connection refused`),
	leak(detAddresses, `dial tcp [::1]:6379: connect: connection refused`, `dial tcp [REDACTED]: connect: connection refused`),
	leak(detAddresses, `listen on [fe80::1%eth0]:8080 failed`, `listen on [REDACTED] failed`),
	leak(detAddresses, `no route to fe80::1ff:fe23:4567:890a`, `no route to [REDACTED]`),
	leak(detAddresses, `connect ECONNREFUSED ::1:1`, `connect ECONNREFUSED [REDACTED]`), // real: Node writes address:port unbracketed
	leak(detAddresses, `dial tcp: lookup users-db.default.svc.cluster.local on 10.96.0.10:53: no such host`, `dial tcp: lookup [REDACTED] on [REDACTED]: no such host`),
	leak(detAddresses, `redis: dial redis.internal:6379 failed`, `redis: dial [REDACTED] failed`),
	leak(detAddresses, `Get "http://metadata.google.internal/computeMetadata/v1/": timeout`, `Get "http://[REDACTED]/computeMetadata/v1/": timeout`),
	leak(detAddresses, `dial tcp: lookup vault.service.consul: server misbehaving`, `dial tcp: lookup [REDACTED]: server misbehaving`),
	leak(detAddresses, `login to db01.corp:1433 failed`, `login to [REDACTED] failed`),
	leak(detAddresses, `printer nas.lan and hub.home.arpa and box.localdomain are down`, `printer [REDACTED] and [REDACTED] and [REDACTED] are down`),
	leak(detAddresses, `getaddrinfo ENOTFOUND orders-api.default.svc`, `getaddrinfo ENOTFOUND [REDACTED]`),
	leak(detAddresses, `Connection to localhost:5432 refused.`, `Connection to [REDACTED] refused.`),
	leak(detAddresses, `Could not connect to jdbc:postgresql://db:5432/app`, `Could not connect to jdbc:postgresql://[REDACTED]/app`),
	leak(detAddresses, "`AUTH` failed: ERR AUTH called without any password configured [tcp://redis:6379]", "`AUTH` failed: ERR AUTH called without any password configured [tcp://[REDACTED]]"),
	leak(detAddresses, `Can't connect to MySQL server on '10.0.0.7:3306' (111)`, `Can't connect to MySQL server on '[REDACTED]' (111)`), // real: MySQL
	leak(detAddresses, `Access denied for user 'app'@'10.0.0.7' (using password: YES)`, `Access denied for user 'app'@'[REDACTED]' (using password: YES)`),

	// --- addresses: look-alikes ---
	keep(detAddresses, `IP 203.0.113.9 is not allowed`),
	keep(detAddresses, `Orders are read-only until 10:30:00 UTC`),
	keep(detAddresses, `Rate limit of 100 requests exceeded`),
	keep(detAddresses, `Cannot GET /api/v1/users/42`), // Express
	keep(detAddresses, `version 10.2.1 is not supported`),
	keep(detAddresses, `Build 1.10.0.3.7 failed`),
	keep(detAddresses, `Get "https://api.example.com/v1/orders": context deadline exceeded`),
	keep(detAddresses, `IPv6 2001:db8::1 is not allowed`),
	keep(detAddresses, `lookup api.stripe.com: no such host`),
	keep(detAddresses, `file settings.local.json not found`),
	keep(detAddresses, `DNS server 8.8.8.8:53 did not answer`),
	keep(detAddresses, `feed: not found`),
	keep(detAddresses, `Access Denied reading s3://acme-uploads/invoices/42.pdf`),
	keep(detAddresses, `See https://api.example.com/users/@me for your profile`),
	keep(detAddresses, `Please select a plan from the list.`),

	// --- traces: leaks (withheld) ---
	leak(detTraces, `NullPointerException at com.example.OrderService.load(OrderService.java:42)`, ""),
	leak(detTraces, `at java.base/jdk.internal.reflect.NativeMethodAccessorImpl.invoke0(Native Method)`, ""),
	leak(detTraces, `IllegalStateException at com.example.Foo.bar(Foo.kt:10)`, ""),
	leak(detTraces, `Traceback (most recent call last): File "/app/main.py", line 3, in <module>`, ""),
	leak(detTraces, `File "/usr/lib/python3.12/json/decoder.py", line 355, in raw_decode`, ""),
	leak(detTraces, `panic: runtime error: invalid memory address or nil pointer dereference goroutine 7 [running]:`, ""),
	leak(detTraces, `main.handler(0xc000010000) /app/main.go:123 +0x1d`, ""),
	leak(detTraces, `TypeError: Cannot read properties of undefined (reading 'id') at Object.<anonymous> (/app/index.js:10:15)`, ""),
	leak(detTraces, `at process.processTicksAndRejections (node:internal/process/task_queues:95:5)`, ""),
	leak(detTraces, `at App.Controllers.OrdersController.Get() in C:\src\App\OrdersController.cs:line 42`, ""),
	leak(detTraces, "at System.Data.SqlClient.SqlConnection.OnError(SqlException exception, Boolean breakConnection, Action`1 wrapCloseInAction)", ""),
	leak(detTraces, `#0 /var/www/html/index.php(12): foo()`, ""),
	leak(detTraces, `PHP Fatal error: Uncaught Error: Call to undefined function bar() in /var/www/html/x.php on line 12`, ""),
	leak(detTraces, `app/models/user.rb:3:in 'save'`, ""),
	leak(detTraces, "app/models/user.rb:3:in `save'", ""),
	leak(detTraces, `thread 'main' (21269) panicked at src/main.rs:10:5:`, ""),

	// --- traces: look-alikes ---
	keep(detTraces, `Cannot read properties of undefined (reading 'id')`),
	keep(detTraces, `Error at index 5`),
	keep(detTraces, `Please retry at 10:30`),
	keep(detTraces, `See the guide at https://example.com/guide.js`),
	keep(detTraces, `Upload main.py failed: line 3 is too long`),
	keep(detTraces, `File "report.csv" is too large`),
	keep(detTraces, `at least 3 items are required`),
	keep(detTraces, `goroutine limit reached`),
	keep(detTraces, `Look at the README.md (section 2)`),

	// --- sql: leaks (withheld) ---
	leak(detSQL, `ERROR: duplicate key value violates unique constraint "users_email_key" (SQLSTATE 23505)`, ""),
	leak(detSQL, `pq: relation "users" does not exist`, ""),
	leak(detSQL, `ERROR: column "emial" does not exist (SQLSTATE 42703)`, ""),
	leak(detSQL, `pq: syntax error at or near "FROM"`, ""),
	leak(detSQL, `ORA-00942: table or view does not exist`, ""),
	leak(detSQL, `Error 1062 (23000): Duplicate entry 'alice@example.com' for key 'users.email'`, ""), // go-sql-driver/mysql
	leak(detSQL, `ERROR 1064 (42000): You have an error in your SQL syntax`, ""),
	leak(detSQL, `Duplicate entry 'alice@example.com' for key 'users.email'`, ""), // MySQL Connector/J
	leak(detSQL, `UNIQUE constraint failed: users.email`, ""),                     // SQLite
	leak(detSQL, `no such table: users`, ""),
	leak(detSQL, `near "FROM": syntax error`, ""),
	leak(detSQL, `Violation of PRIMARY KEY constraint 'PK_Users'. Cannot insert duplicate key in object 'dbo.Users'.`, ""), // SQL Server
	leak(detSQL, `Cannot insert duplicate key row in object 'dbo.Users' with unique index 'IX_Users_Email'.`, ""),
	leak(detSQL, `query SELECT id, email FROM users WHERE id = $1 timed out`, ""),
	leak(detSQL, `INSERT INTO orders (id) VALUES (42) failed`, ""),
	leak(detSQL, `UPDATE accounts SET balance = 0 failed`, ""),
	leak(detSQL, `DELETE FROM sessions failed`, ""),
	leak(detSQL, `could not execute statement; SQLState: 23505`, ""), // Spring / Hibernate

	// --- sql: look-alikes ---
	keep(detSQL, `Please select a plan from the list.`),
	keep(detSQL, `Duplicate key: email`),
	keep(detSQL, `Select at least one item`),
	keep(detSQL, `Update failed: please try again`),
	keep(detSQL, `This email is already taken`),
	keep(detSQL, `The SELECT button is disabled`),
	keep(detSQL, `Error 404: not found`),
	keep(detSQL, `Order violates our terms of service`),
	keep(detSQL, `no such user`),
	keep(detSQL, `Error 1001 (quota) exceeded`),
	keep(detSQL, `relation between orders and users is invalid`),
}

// scrubOptCases need the detectors that are off by default: the rows run
// with every detector on.
var scrubOptCases = []scrubCase{
	leak(detEmails, `user alice@example.com already exists`, `user [REDACTED] already exists`),
	leak(detEmails, `cannot deliver to ops+alerts@corp.example.co.uk.`, `cannot deliver to [REDACTED].`),
	leak(detEmails, `Gaia id not found for email flock@dev-bytetoko.iam.gserviceaccount.com`, `Gaia id not found for email [REDACTED]`),
	keep(detEmails, `@username is taken`),
	keep(detEmails, `Mention @team in the comment`),
	keep(detEmails, `name@ is not valid`),
	keep(detEmails, `version 1.2@beta is unknown`),

	leak(detPaths, `open /etc/app/config.yaml: permission denied`, `open [REDACTED]: permission denied`),
	leak(detPaths, `ENOENT: no such file or directory, open '/app/uploads/a.png'`, `ENOENT: no such file or directory, open '[REDACTED]'`),
	leak(detPaths, `C:\inetpub\wwwroot\web.config not found`, `[REDACTED] not found`),
	leak(detPaths, `read /home/deploy/.ssh/id_rsa: permission denied`, `read [REDACTED]: permission denied`),
	leak(detPaths, `mkdir /var/lib/app/cache: read-only file system`, `mkdir [REDACTED]: read-only file system`),
	keep(detPaths, `Cannot GET /api/v1/users/42`),
	keep(detPaths, `Cannot GET /app/settings`),
	keep(detPaths, `See https://example.com/var/docs`),
	keep(detPaths, `Route /tmp-files is unknown`),
	keep(detPaths, `Use a date like 2024/01/02`),
}
