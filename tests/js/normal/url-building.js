// expect: Done
// result: 'https://api.example.com/v1/search?q=caf%C3%A9+au+lait&page=2&lang=en; xn--caf-dma.example; 2'
// why: what agent code does with URL: build an API call from a base and parameters, read a host, count query entries.
const url = new URL('/v1/search', 'https://api.example.com/v1/');
url.searchParams.set('q', 'café au lait');
url.searchParams.append('page', 2);
url.searchParams.append('lang', 'en');
const host = new URL('https://café.example/').hostname;
const seen = new URLSearchParams(new URL('https://x/?a=1&b=2').search).size;
`${url}; ${host}; ${seen}`
