from scrapy.exceptions import NotConfigured


class AuthMiddleware:
    """Sends the API key as ``Authorization: Bearer`` on requests to the configured API host.

    The header is added as the request leaves for the network and taken off again when it
    comes back, so a request that is retried, queued or written to JOBDIR never carries the
    key. It never goes into a URL.
    """

    def __init__(self, api_key, base_url):
        self._authorization = f"Bearer {api_key}".encode()
        self._base_url = base_url.rstrip("/") + "/"

    @classmethod
    def from_crawler(cls, crawler):
        api_key = crawler.settings.get("POLYGON_API_KEY")
        if not api_key:
            raise NotConfigured("POLYGON_API_KEY is not set")
        return cls(api_key, crawler.settings["POLYGON_BASE_URL"])

    def process_request(self, request):
        if request.url.startswith(self._base_url):
            request.headers[b"Authorization"] = self._authorization

    def process_response(self, request, response):
        request.headers.pop(b"Authorization", None)
        return response

    def process_exception(self, request, exception):
        request.headers.pop(b"Authorization", None)
