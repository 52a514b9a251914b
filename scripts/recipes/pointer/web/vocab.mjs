// Words, labels and icons the web page generator (gen.mjs) draws from. Written for the
// generator; not taken from evalsets/real-screens (which it must never see).

export const BRANDS = ['Northwind', 'Bluebird', 'Quarry', 'Lumen', 'Tidepool', 'Orchard', 'Foxglove',
  'Halcyon', 'Driftwood', 'Pinecone', 'Saltmarsh', 'Copperleaf', 'Meridian', 'Brightline', 'Kestrel',
  'Oakmoss', 'Sundial', 'Waypoint', 'Harbour & Co', 'Fjordlys', 'Müllerhaus', 'Café Olé'];

export const NAV = ['Home', 'Products', 'Pricing', 'About', 'Blog', 'Careers', 'Contact', 'Docs',
  'Support', 'Features', 'Customers', 'Community', 'Shop', 'News', 'Events', 'Partners', 'Resources',
  'Help', 'Sport', 'Science', 'Business', 'Travel', 'Culture', 'Weather', 'Recipes', 'Deals',
  'Downloads', 'Forum', 'Jobs', 'Press', 'Gallery', 'Team', 'Services', 'Stories', 'Library',
  'Dashboard', 'Reports', 'Projects', 'Inbox', 'Calendar', 'Contacts', 'Archive', 'Account'];

export const FIELDS = ['Email', 'Email address', 'Password', 'Username', 'Full name', 'First name',
  'Last name', 'Phone', 'Phone number', 'Company', 'Street address', 'City', 'Postcode', 'ZIP code',
  'Country', 'Card number', 'Expiry date', 'Security code', 'Name on card', 'Promo code',
  'Gift card', 'Website', 'Job title', 'Message', 'Subject', 'Search', 'Date of birth', 'Nickname',
  'Confirm password', 'Display name', 'Billing email', 'Tax ID', 'Apartment', 'State', 'Region',
  'Order number', 'Coupon', 'Referral code', 'Team size', 'Project name', 'Repository URL',
  'Budget', 'Start date', 'End date', 'Quantity', 'Notes', 'Recipient', 'Amount', 'IBAN'];

// [label, action phrasings a user might type instead of naming the button]
export const BUTTONS = [
  ['Sign in', ['sign in', 'log in']], ['Log in', ['log in', 'sign in']], ['Sign up', ['sign up', 'create an account']],
  ['Create account', ['create the account', 'create an account']], ['Continue', ['continue', 'go on']],
  ['Next', ['go to the next step', 'next']], ['Back', ['go back']], ['Submit', ['submit the form', 'submit']],
  ['Save', ['save']], ['Save changes', ['save the changes', 'save my changes']], ['Cancel', ['cancel']],
  ['Delete', ['delete it']], ['Apply', ['apply']], ['Apply coupon', ['apply the coupon']],
  ['Place order', ['place the order', 'place my order']], ['Pay now', ['pay now', 'pay']],
  ['Add to cart', ['add it to the cart', 'add to basket']], ['Checkout', ['check out', 'go to checkout']],
  ['Subscribe', ['subscribe', 'subscribe to the newsletter']], ['Download', ['download it']],
  ['Upload', ['upload a file']], ['Send', ['send it', 'send the message']], ['Reply', ['reply']],
  ['Forward', ['forward the message']], ['Accept all', ['accept all cookies', 'accept the cookies']],
  ['Reject all', ['reject all cookies', 'reject the cookies']], ['Manage preferences', ['manage cookie preferences']],
  ['Get started', ['get started']], ['Learn more', ['learn more']], ['Try for free', ['start a free trial']],
  ['Book a demo', ['book a demo']], ['Contact sales', ['contact sales']], ['Export', ['export the data']],
  ['Import', ['import data']], ['Share', ['share it']], ['Invite', ['invite someone']],
  ['Invite members', ['invite members', 'invite people']], ['New project', ['create a new project', 'start a new project']],
  ['Compose', ['write a new email', 'compose a message']], ['Refresh', ['refresh']], ['Confirm', ['confirm']],
  ['Yes', ['say yes']], ['No', ['say no']], ['OK', ['ok', 'okay']], ['Close', ['close it']],
  ['Retry', ['try again', 'retry']], ['Skip', ['skip this step', 'skip']], ['Finish', ['finish', 'finish the setup']],
  ['Update', ['update']], ['Reset password', ['reset my password']], ['Forgot password?', ['I forgot my password']],
  ['Show more', ['show more']], ['Load more', ['load more results']], ['Edit profile', ['edit my profile']],
  ['Upgrade', ['upgrade the plan', 'upgrade']], ['Renew', ['renew the subscription']],
  ['Archive', ['archive it']], ['Restore', ['restore it']], ['Rename', ['rename it']], ['Preview', ['preview it']],
  ['Publish', ['publish it', 'publish the post']], ['Discard', ['discard the changes', 'discard']],
  ['Undo', ['undo that']], ['Print', ['print it']], ['Copy link', ['copy the link']],
  ['Follow', ['follow them']], ['Join now', ['join']], ['Buy now', ['buy it now']], ['Track order', ['track my order']],
];

export const CHECKS = ['Remember me', 'Keep me signed in', 'I agree to the terms', 'Send me updates',
  'Subscribe to the newsletter', 'Use as billing address', 'Save this card', 'Show password',
  'Email notifications', 'Push notifications', 'Weekly digest', 'Make profile public', 'Mark as read',
  'Include archived', 'Open links in new tab', 'Enable two-factor login', 'Gift wrap', 'Express shipping',
  'Auto-save drafts', 'Show line numbers', 'Hide completed tasks', 'Share usage data', 'Allow comments'];

export const TOGGLES = ['Dark mode', 'Notifications', 'Auto-update', 'Location access', 'Sound effects',
  'Compact view', 'Wi-Fi', 'Bluetooth', 'Do not disturb', 'Auto-play videos', 'Spell check',
  'Sync contacts', 'Airplane mode', 'Read receipts', 'High contrast', 'Beta features', 'Autocorrect',
  'Show previews', 'Background refresh', 'Private account'];

export const RADIO_GROUPS = [
  ['Plan', ['Free', 'Pro', 'Business', 'Enterprise']],
  ['Delivery', ['Standard delivery', 'Next-day delivery', 'Collect in store']],
  ['Payment', ['Credit card', 'PayPal', 'Bank transfer', 'Invoice']],
  ['Billing', ['Monthly', 'Yearly']],
  ['Size', ['Small', 'Medium', 'Large', 'Extra large']],
  ['Theme', ['Light', 'Dark', 'System default']],
  ['Visibility', ['Public', 'Private', 'Only team members']],
  ['Frequency', ['Daily', 'Weekly', 'Never']],
  ['Role', ['Viewer', 'Editor', 'Owner']],
  ['Seats', ['1 seat', '2–5 seats', '6–20 seats', '21+ seats']],
];

export const TABS = ['Overview', 'Details', 'Reviews', 'Settings', 'Activity', 'Members', 'Billing',
  'Security', 'Files', 'Comments', 'History', 'Specifications', 'Shipping', 'Profile', 'Privacy',
  'Integrations', 'API keys', 'Usage', 'Logs', 'General', 'Appearance', 'Advanced', 'main.rs', 'index.html',
  'README.md', 'style.css'];

export const MENUS = {
  File: ['New', 'Open…', 'Save', 'Save as…', 'Export PDF', 'Print…', 'Close window'],
  Edit: ['Undo', 'Redo', 'Cut', 'Copy', 'Paste', 'Find…', 'Replace…', 'Select all'],
  View: ['Zoom in', 'Zoom out', 'Full screen', 'Show ruler', 'Word count'],
  Insert: ['Image', 'Table', 'Link', 'Page break', 'Footnote', 'Date and time'],
  Format: ['Bold', 'Italic', 'Clear formatting', 'Line spacing', 'Columns'],
  Tools: ['Spelling', 'Word count', 'Preferences…', 'Extensions'],
  Help: ['Documentation', 'Keyboard shortcuts', 'Report a problem', 'About'],
};

export const PEOPLE = ['Amélie Durand', 'Björn Larsen', 'Chen Wei', 'Dana Whitfield', 'Émile Roux',
  'Fatima Okafor', 'Grzegorz Nowak', 'Hannah Schäfer', 'Isla MacLeod', 'João Pereira', 'Kenji Tanaka',
  'Lena Øverby', 'Marta Kowalska', 'Noah Fischer', 'Olivia Brennan', 'Priya Raman', 'Rafael Gómez',
  'Sofia Lindqvist', 'Tomás Ferreira', 'Uma Patel', 'Viktor Horváth', 'Zoë Martin'];

export const ITEMS = ['Walnut desk', 'Linen shirt', 'Espresso grinder', 'Trail shoes', 'Desk lamp',
  'Wool scarf', 'Cast-iron pan', 'Yoga mat', 'Bluetooth speaker', 'Ceramic mug', 'Rain jacket',
  'Notebook set', 'Standing fan', 'Chef’s knife', 'Tea sampler', 'Backpack', 'Monitor arm', 'Pour-over kettle',
  'quarterly-report.pdf', 'budget_2026.xlsx', 'holiday-photos', 'invoice-1042.pdf', 'notes.txt',
  'logo-final.svg', 'Q3 roadmap', 'Onboarding guide', 'Brand assets', 'Server logs'];

export const SUBJECTS = ['Your order has shipped', 'Team lunch on Friday', 'Invoice #2231', 'Weekly report',
  'Password reset', 'Welcome aboard!', 'Meeting notes', 'Re: design review', 'Flight confirmation',
  'New comment on your post', 'Quarterly planning', 'Holiday schedule'];

export const SENTENCES = [
  ['Read our', 'privacy notice', 'to learn how we use your data.'],
  ['By continuing you accept the', 'terms of service', 'and our cookie rules.'],
  ['New here?', 'Create a free account', 'in under a minute.'],
  ['Questions? Visit the', 'help centre', 'or write to us.'],
  ['See the full', 'release notes', 'for everything that changed.'],
  ['Already a member?', 'Log in here', 'to continue.'],
  ['Prices include VAT. See', 'shipping rates', 'for your country.'],
  ['You can', 'unsubscribe', 'at any time.'],
  ['Our', 'refund policy', 'covers 30 days.'],
  ['Learn more in the', 'documentation', 'and tutorials.'],
  ['Find a', 'store near you', 'or order online.'],
  ['Check the', 'system status', 'page for outages.'],
];

export const HEADINGS = ['Account settings', 'Checkout', 'Shipping details', 'Your profile', 'Sign in to continue',
  'Create your account', 'Payment method', 'Notifications', 'Team members', 'Recent orders', 'Inbox',
  'Project files', 'Preferences', 'Contact us', 'Order summary', 'Security', 'Billing', 'Latest news',
  'Welcome back', 'Get in touch', 'Your cart', 'Privacy settings'];

// Icons: [key, names a user calls it, actions it does, how it is drawn].
// `svg` is the inner markup of a 24×24 stroke icon; `glyph` is a Unicode character drawn as text.
export const ICONS = [
  { key: 'search', names: ['search', 'magnifying glass', 'magnifier'], actions: ['search', 'search the site', 'open the search'],
    svg: '<circle cx="11" cy="11" r="6.5"/><path d="M16 16l5 5"/>' },
  { key: 'close', names: ['close', '×', 'x', 'cross'], actions: ['close it', 'dismiss it'],
    svg: '<path d="M6 6l12 12M18 6L6 18"/>', glyph: ['×', '✕'] },
  { key: 'menu', names: ['menu', 'hamburger', 'three lines'], actions: ['open the menu', 'show the menu'],
    svg: '<path d="M4 6h16M4 12h16M4 18h16"/>', glyph: ['☰'] },
  { key: 'settings', names: ['settings', 'gear', 'cog'], actions: ['open the settings', 'open settings'],
    svg: '<circle cx="12" cy="12" r="3"/><path d="M12 2.5v3M12 18.5v3M2.5 12h3M18.5 12h3M5.3 5.3l2.1 2.1M16.6 16.6l2.1 2.1M5.3 18.7l2.1-2.1M16.6 7.4l2.1-2.1"/><circle cx="12" cy="12" r="6.5"/>',
    glyph: ['⚙'] },
  { key: 'delete', names: ['trash', 'bin', 'delete', 'trash can'], actions: ['delete it', 'remove it', 'throw it away'],
    svg: '<path d="M4 7h16M10 7V4h4v3M6 7l1 13h10l1-13M10 11v6M14 11v6"/>' },
  { key: 'edit', names: ['edit', 'pencil'], actions: ['edit it', 'change it'],
    svg: '<path d="M4 20l1-4L16 5l3 3L8 19z"/>', glyph: ['✎'] },
  { key: 'star', names: ['star', 'favourite'], actions: ['star it', 'add it to favourites'],
    svg: '<path d="M12 3l2.7 5.6 6.1.8-4.5 4.2 1.1 6-5.4-3-5.4 3 1.1-6L3.2 9.4l6.1-.8z"/>', glyph: ['★', '☆'] },
  { key: 'add', names: ['plus', 'add', 'new'], actions: ['add a new one', 'add one'],
    svg: '<path d="M12 5v14M5 12h14"/>', glyph: ['+'] },
  { key: 'heart', names: ['heart', 'like'], actions: ['like it'],
    svg: '<path d="M12 20s-7.5-4.6-7.5-10A4.2 4.2 0 0 1 12 7.3 4.2 4.2 0 0 1 19.5 10c0 5.4-7.5 10-7.5 10z"/>', glyph: ['♥'] },
  { key: 'bell', names: ['bell', 'notifications'], actions: ['show the notifications', 'see notifications'],
    svg: '<path d="M6 17V11a6 6 0 0 1 12 0v6l2 2H4zM10 21h4"/>' },
  { key: 'home', names: ['home', 'house'], actions: ['go home', 'go to the home page'],
    svg: '<path d="M3 11l9-8 9 8M5 10v10h5v-6h4v6h5V10"/>' },
  { key: 'user', names: ['profile', 'user', 'avatar', 'person'], actions: ['open my profile', 'open the account menu'],
    svg: '<circle cx="12" cy="8" r="4"/><path d="M4 21c0-4 3.6-6.5 8-6.5s8 2.5 8 6.5"/>' },
  { key: 'download', names: ['download', 'down arrow'], actions: ['download it', 'save a copy'],
    svg: '<path d="M12 3v12M7 10l5 5 5-5M4 20h16"/>' },
  { key: 'upload', names: ['upload', 'up arrow'], actions: ['upload a file'],
    svg: '<path d="M12 21V9M7 14l5-5 5 5M4 4h16"/>' },
  { key: 'refresh', names: ['refresh', 'reload', 'circular arrow'], actions: ['refresh it', 'reload the page'],
    svg: '<path d="M20 12a8 8 0 1 1-2.4-5.7M20 4v5h-5"/>', glyph: ['↻', '⟳'] },
  { key: 'share', names: ['share'], actions: ['share it'],
    svg: '<circle cx="6" cy="12" r="2.5"/><circle cx="18" cy="6" r="2.5"/><circle cx="18" cy="18" r="2.5"/><path d="M8.2 10.8l7.6-3.6M8.2 13.2l7.6 3.6"/>' },
  { key: 'print', names: ['print', 'printer'], actions: ['print it', 'print the page'],
    svg: '<path d="M7 9V3h10v6M7 17H4v-8h16v8h-3M7 14h10v7H7z"/>' },
  { key: 'filter', names: ['filter', 'funnel'], actions: ['filter the list', 'filter results'],
    svg: '<path d="M3 5h18l-7 8v6l-4 2v-8z"/>' },
  { key: 'more', names: ['more', 'three dots', 'more options'], actions: ['show more options', 'open more options'],
    svg: '<circle cx="5" cy="12" r="1.6"/><circle cx="12" cy="12" r="1.6"/><circle cx="19" cy="12" r="1.6"/>', glyph: ['⋯', '⋮'] },
  { key: 'copy', names: ['copy', 'duplicate'], actions: ['copy it', 'duplicate it'],
    svg: '<rect x="8" y="8" width="12" height="12" rx="1"/><path d="M16 8V4H4v12h4"/>' },
  { key: 'calendar', names: ['calendar', 'date picker'], actions: ['pick a date', 'open the calendar'],
    svg: '<rect x="3" y="5" width="18" height="16" rx="1"/><path d="M3 10h18M8 3v4M16 3v4"/>' },
  { key: 'mail', names: ['mail', 'envelope', 'email'], actions: ['write an email', 'send an email'],
    svg: '<rect x="3" y="5" width="18" height="14" rx="1"/><path d="M3 6l9 7 9-7"/>' },
  { key: 'lock', names: ['lock', 'padlock'], actions: ['lock it'],
    svg: '<rect x="5" y="11" width="14" height="10" rx="1"/><path d="M8 11V7a4 4 0 0 1 8 0v4"/>' },
  { key: 'bookmark', names: ['bookmark'], actions: ['bookmark it', 'save it for later'],
    svg: '<path d="M6 3h12v18l-6-4-6 4z"/>' },
  { key: 'prev', names: ['previous', 'left arrow', 'back arrow', 'chevron left'], actions: ['go back', 'go to the previous page'],
    svg: '<path d="M15 5l-7 7 7 7"/>', glyph: ['‹', '←'] },
  { key: 'next', names: ['next', 'right arrow', 'forward arrow', 'chevron right'], actions: ['go forward', 'go to the next page'],
    svg: '<path d="M9 5l7 7-7 7"/>', glyph: ['›', '→'] },
  { key: 'play', names: ['play'], actions: ['play it', 'start playback'],
    svg: '<path d="M7 4l13 8-13 8z"/>', glyph: ['▶'] },
  { key: 'eye', names: ['eye', 'show password'], actions: ['show the password', 'reveal the password'],
    svg: '<path d="M2 12s3.6-7 10-7 10 7 10 7-3.6 7-10 7S2 12 2 12z"/><circle cx="12" cy="12" r="3"/>' },
  { key: 'info', names: ['info', 'information'], actions: ['show more information'],
    svg: '<circle cx="12" cy="12" r="9"/><path d="M12 11v6M12 7.5v.5"/>', glyph: ['ⓘ'] },
  { key: 'help', names: ['help', 'question mark'], actions: ['get help', 'open the help'],
    svg: '<circle cx="12" cy="12" r="9"/><path d="M9.5 9.5a2.5 2.5 0 1 1 3.5 2.3c-.7.3-1 .8-1 1.5V14M12 17v.5"/>', glyph: ['?'] },
  { key: 'undo', names: ['undo', 'curved arrow left'], actions: ['undo that', 'undo the last change'],
    svg: '<path d="M9 14L4 9l5-5M4 9h11a5 5 0 0 1 0 10h-3"/>', glyph: ['↶'] },
  { key: 'redo', names: ['redo', 'curved arrow right'], actions: ['redo that', 'redo the change'],
    svg: '<path d="M15 14l5-5-5-5M20 9H9a5 5 0 0 0 0 10h3"/>', glyph: ['↷'] },
  { key: 'grid', names: ['grid view', 'grid'], actions: ['show it as a grid', 'switch to grid view'],
    svg: '<rect x="4" y="4" width="7" height="7"/><rect x="13" y="4" width="7" height="7"/><rect x="4" y="13" width="7" height="7"/><rect x="13" y="13" width="7" height="7"/>' },
  { key: 'list', names: ['list view', 'bulleted list', 'list'], actions: ['show it as a list', 'make a bulleted list'],
    svg: '<path d="M9 6h11M9 12h11M9 18h11"/><circle cx="5" cy="6" r="1"/><circle cx="5" cy="12" r="1"/><circle cx="5" cy="18" r="1"/>' },
  { key: 'cart', names: ['cart', 'shopping cart', 'basket'], actions: ['open the cart', 'see my basket'],
    svg: '<path d="M3 4h3l2.4 11h10l2-8H7"/><circle cx="10" cy="19.5" r="1.5"/><circle cx="17" cy="19.5" r="1.5"/>' },
  { key: 'attach', names: ['paperclip', 'attachment'], actions: ['attach a file', 'add an attachment'],
    svg: '<path d="M20 11l-8 8a5 5 0 0 1-7-7l8.5-8.5a3.3 3.3 0 0 1 4.7 4.7L9.7 16.7a1.7 1.7 0 0 1-2.4-2.4L15 6.6"/>' },
  { key: 'zoom-in', names: ['zoom in', 'magnifier with a plus'], actions: ['zoom in', 'make it bigger'],
    svg: '<circle cx="11" cy="11" r="6.5"/><path d="M16 16l5 5M8 11h6M11 8v6"/>' },
  { key: 'zoom-out', names: ['zoom out', 'magnifier with a minus'], actions: ['zoom out', 'make it smaller'],
    svg: '<circle cx="11" cy="11" r="6.5"/><path d="M16 16l5 5M8 11h6"/>' },
  { key: 'expand', names: ['expand', 'full screen'], actions: ['go full screen', 'expand it'],
    svg: '<path d="M4 9V4h5M20 9V4h-5M4 15v5h5M20 15v5h-5"/>' },
];

// Text-formatting buttons of an editor toolbar: drawn as styled letters or line icons.
export const FORMAT = [
  { key: 'bold', names: ['bold', 'B'], actions: ['make the text bold', 'bold the text', 'make it bold'], html: '<b>B</b>' },
  { key: 'italic', names: ['italic', 'I'], actions: ['make the text italic', 'italicise it'], html: '<i style="font-family:serif">I</i>' },
  { key: 'underline', names: ['underline', 'U'], actions: ['underline the text', 'underline it'], html: '<u>U</u>' },
  { key: 'strike', names: ['strikethrough', 'S'], actions: ['strike the text through', 'cross it out'], html: '<s>S</s>' },
  { key: 'align-left', names: ['align left'], actions: ['align the text left', 'left-align it'], svg: '<path d="M4 6h16M4 10h10M4 14h16M4 18h10"/>' },
  { key: 'align-center', names: ['align centre', 'align center', 'centre alignment'], actions: ['centre the text', 'center the text'], svg: '<path d="M4 6h16M7 10h10M4 14h16M7 18h10"/>' },
  { key: 'align-right', names: ['align right'], actions: ['align the text right', 'right-align it'], svg: '<path d="M4 6h16M10 10h10M4 14h16M10 18h10"/>' },
  { key: 'numbered', names: ['numbered list'], actions: ['make a numbered list'], svg: '<path d="M10 6h10M10 12h10M10 18h10M4 4.5h1.5v3M4 10.5h2l-2 3h2"/>' },
  { key: 'link', names: ['link', 'chain'], actions: ['insert a link', 'add a link'], svg: '<path d="M10 14a4 4 0 0 0 6 0l3-3a4 4 0 0 0-6-6l-1 1M14 10a4 4 0 0 0-6 0l-3 3a4 4 0 0 0 6 6l1-1"/>' },
  { key: 'image', names: ['image', 'picture'], actions: ['insert an image', 'add a picture'], svg: '<rect x="3" y="4" width="18" height="16" rx="1"/><circle cx="9" cy="9" r="2"/><path d="M21 16l-5-5-9 9"/>' },
];
