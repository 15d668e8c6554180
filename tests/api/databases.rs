//! Throw-away MySQL databases and Redis key prefixes, one per test, removed afterwards.

use std::time::Duration;

use mysql_async::prelude::Queryable;

use crate::helpers::unique;

/// The MariaDB/MySQL server the tests use (root, no password, as on the CI machine).
pub fn mysql_server() -> String {
    std::env::var("TICKETCLUB_TEST_MYSQL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

/// A fresh, empty database that is dropped when this guard goes away.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// Creates `tc_test_<pid>_<n>` on the test server.
    pub async fn create() -> TestDb {
        let name = unique("tc_test").replace('-', "_");
        let server = mysql_server();
        let mut conn = mysql_async::Conn::from_url(&server)
            .await
            .expect("the test MySQL server answers (scripts/services.sh starts it)");
        conn.query_drop(format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
            .await
            .expect("create test database");
        let _ = conn.disconnect().await;
        TestDb {
            url: format!("{server}/{name}"),
            name,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (server, name) = (mysql_server(), self.name.clone());
        // Drop runs outside async: use a private runtime on a helper thread.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = mysql_async::Conn::from_url(&server).await.ok()?;
                let sql = format!("DROP DATABASE IF EXISTS `{name}`");
                tokio::time::timeout(Duration::from_secs(10), conn.query_drop(sql))
                    .await
                    .ok()?
                    .ok()?;
                conn.disconnect().await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("warning: test database {} was not dropped", self.name);
        }
    }
}

/// The Redis server the tests use.
pub fn redis_server() -> String {
    std::env::var("TICKETCLUB_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A unique key prefix on the test Redis; its keys are deleted when the guard goes away.
pub struct TestRedis {
    pub url: String,
    pub prefix: String,
}

impl TestRedis {
    /// A fresh prefix (`tct:<pid>-<n>:`) on the test server.
    pub fn new() -> TestRedis {
        TestRedis {
            url: redis_server(),
            prefix: format!("{}:", unique("tct")),
        }
    }
}

impl TestRedis {
    /// The same, on the Redis Cluster named by `TICKETCLUB_TEST_REDIS_CLUSTER` (scripts/test
    /// starts one with scripts/redis-cluster.sh), if any.
    pub fn cluster() -> Option<TestRedis> {
        let url = std::env::var("TICKETCLUB_TEST_REDIS_CLUSTER").ok()?;
        Some(TestRedis {
            url,
            prefix: format!("{}:", unique("tct")),
        })
    }
}

impl TestRedis {
    /// The keys under this prefix that never expire (single node only).
    pub async fn keys_without_ttl(&self) -> Vec<String> {
        use fred::prelude::*;
        use futures_util::StreamExt;
        let config = Config::from_url(&self.url).expect("a Redis URL");
        let client = Builder::from_config(config).build().expect("a client");
        client.init().await.expect("the test Redis answers");
        let pattern = format!("{}*", self.prefix);
        let mut keys = std::pin::pin!(client.scan_buffered(pattern, Some(500), None));
        let mut forever = Vec::new();
        while let Some(Ok(key)) = keys.next().await {
            let ttl: i64 = client.pttl(key.clone()).await.expect("PTTL");
            if ttl == -1 {
                forever.push(key.as_str().unwrap_or_default().to_string());
            }
        }
        let _ = client.quit().await;
        forever
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let (url, pattern) = (self.url.clone(), format!("{}*", self.prefix));
        // Drop runs outside async: use a private runtime on a helper thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(delete_matching(&url, &pattern))
        })
        .join();
    }
}

/// Deletes every key matching `pattern`, on each node of a cluster.
async fn delete_matching(url: &str, pattern: &str) -> Option<()> {
    use fred::prelude::*;
    use futures_util::StreamExt;
    let client = Builder::from_config(Config::from_url(url).ok()?)
        .build()
        .ok()?;
    client.init().await.ok()?;
    let mut found: Vec<Key> = Vec::new();
    if url.starts_with("redis-cluster") {
        let mut keys = std::pin::pin!(client.scan_cluster_buffered(pattern, Some(500), None));
        while let Some(Ok(key)) = keys.next().await {
            found.push(key);
        }
    } else {
        let mut keys = std::pin::pin!(client.scan_buffered(pattern, Some(500), None));
        while let Some(Ok(key)) = keys.next().await {
            found.push(key);
        }
    }
    for key in found {
        let _: i64 = client.del(key).await.ok()?;
    }
    client.quit().await.ok()
}
