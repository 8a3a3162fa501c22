//! Test-only provider `echo` 1.0.0: asks for HTTP to one host.

const VERSION: &str = "1.0.0";
const HTTP_HOSTS: &[&str] = &["https://echo.example.com"];

include!("../../echo/echo.rs");
