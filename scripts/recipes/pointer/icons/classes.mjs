// The icon classes of the perception stage's icon reader (reticle's OmniParser-style icon
// captions): what a user calls each icon, and the file names that draw it in the npm icon sets
// gen.mjs renders. One source of truth: gen.mjs writes these into the dataset's classes.json,
// the trainer copies them into the package's manifest, and the runtime reads a recognised icon
// as a text span "NAME NAME … icon".
//
// `names`: the words the span carries (first the usual one). `stems`: icon file names (after
// set prefixes such as bx-/bi- and suffixes such as -outline/-line/-fill/-16/-24 are stripped).

export const CLASSES = [
  { key: 'search', names: ['search', 'magnifier', 'magnifying', 'glass'], stems: ['search', 'magnifying-glass', 'magnify', 'zoom'] },
  { key: 'close', names: ['close', 'x', 'cross', '×'], stems: ['x', 'close', 'xmark', 'x-lg', 'cross', 'multiply'] },
  { key: 'menu', names: ['menu', 'hamburger'], stems: ['menu', 'bars', 'hamburger', 'three-bars', 'menu-2', 'navigation-menu'] },
  { key: 'settings', names: ['settings', 'gear', 'cog'], stems: ['settings', 'gear', 'cog', 'gear-six', 'gear-fine', 'settings-2', 'cog-6-tooth', 'cog-8-tooth'] },
  { key: 'trash', names: ['trash', 'delete', 'bin', 'remove'], stems: ['trash', 'trash-2', 'trash-can', 'trash3', 'delete', 'bin', 'trash-simple', 'delete-bin', 'delete-bin-2', 'trash-alt'] },
  { key: 'edit', names: ['edit', 'pencil', 'pen'], stems: ['pencil', 'edit', 'edit-2', 'pencil-simple', 'pen', 'pencil-alt', 'pencil-square', 'pencil-line', 'edit-3', 'pen-line'] },
  { key: 'star', names: ['star', 'favourite', 'favorite'], stems: ['star'] },
  { key: 'add', names: ['add', 'plus', 'new'], stems: ['plus', 'add', 'plus-lg'] },
  { key: 'minus', names: ['minimise', 'minimize', 'minus'], stems: ['minus', 'dash', 'dash-lg', 'remove', 'subtract', 'window-minimize'] },
  { key: 'maximize', names: ['maximise', 'maximize', 'restore'], stems: ['square', 'window-maximize', 'crop-square', 'maximize', 'maximize-2'] },
  { key: 'heart', names: ['heart', 'like'], stems: ['heart'] },
  { key: 'bell', names: ['bell', 'notifications', 'alerts'], stems: ['bell', 'notifications', 'notification'] },
  { key: 'home', names: ['home', 'house'], stems: ['home', 'house', 'home-2', 'house-simple'] },
  { key: 'user', names: ['user', 'profile', 'account', 'person'], stems: ['user', 'person', 'account', 'profile', 'user-circle', 'person-circle', 'account-circle', 'circle-user'] },
  { key: 'download', names: ['download'], stems: ['download', 'download-simple', 'arrow-down-tray'] },
  { key: 'upload', names: ['upload'], stems: ['upload', 'upload-simple', 'arrow-up-tray'] },
  { key: 'refresh', names: ['refresh', 'reload', 'circular', 'arrow'], stems: ['refresh', 'refresh-cw', 'rotate-cw', 'arrow-clockwise', 'reload', 'rotate-right', 'arrow-path', 'refresh-ccw', 'arrow-counterclockwise', 'rotate-ccw', 'restart', 'sync', 'loop'] },
  { key: 'share', names: ['share'], stems: ['share', 'share-2', 'share-network', 'share-alt', 'share-variant'] },
  { key: 'print', names: ['print', 'printer'], stems: ['printer', 'print'] },
  { key: 'filter', names: ['filter', 'funnel'], stems: ['filter', 'funnel', 'funnel-simple', 'filter-alt'] },
  { key: 'more', names: ['more', 'options', 'dots'], stems: ['more-horizontal', 'more-vertical', 'dots-horizontal', 'dots-vertical', 'three-dots', 'three-dots-vertical', 'ellipsis', 'dots-three', 'dots-three-vertical', 'kebab-horizontal', 'ellipsis-h', 'ellipsis-v', 'more-horiz', 'more-vert', 'ellipsis-horizontal', 'ellipsis-vertical', 'more', 'more-2'] },
  { key: 'copy', names: ['copy', 'duplicate', 'files'], stems: ['copy', 'files', 'clone', 'duplicate', 'copy-simple', 'content-copy', 'file-copy', 'documents'] },
  { key: 'calendar', names: ['calendar', 'date'], stems: ['calendar', 'calendar-days', 'calendar-blank', 'calendar-month', 'calendar-event', 'calendar3', 'calendar-today'] },
  { key: 'mail', names: ['mail', 'email', 'envelope', 'inbox'], stems: ['mail', 'envelope', 'email', 'envelope-simple', 'inbox'] },
  { key: 'lock', names: ['lock', 'padlock'], stems: ['lock', 'lock-closed', 'padlock', 'lock-simple', 'lock-fill'] },
  { key: 'bookmark', names: ['bookmark', 'save'], stems: ['bookmark', 'bookmark-simple'] },
  { key: 'left', names: ['back', 'left', 'previous', 'arrow'], stems: ['arrow-left', 'chevron-left', 'arrow-back', 'caret-left', 'angle-left', 'arrow-left-short', 'left-arrow', 'chevron-back', 'arrow-left-line', 'keyboard-arrow-left', 'arrow-back-ios'] },
  { key: 'right', names: ['next', 'right', 'forward', 'arrow'], stems: ['arrow-right', 'chevron-right', 'arrow-forward', 'caret-right', 'angle-right', 'arrow-right-short', 'right-arrow', 'chevron-forward', 'keyboard-arrow-right', 'arrow-forward-ios'] },
  { key: 'up', names: ['up', 'arrow', 'parent'], stems: ['arrow-up', 'chevron-up', 'caret-up', 'angle-up', 'arrow-up-short', 'arrow-upward', 'keyboard-arrow-up'] },
  { key: 'down', names: ['down', 'arrow', 'expand'], stems: ['arrow-down', 'chevron-down', 'caret-down', 'angle-down', 'arrow-down-short', 'arrow-downward', 'keyboard-arrow-down', 'expand-more'] },
  { key: 'play', names: ['play', 'run', 'start'], stems: ['play', 'play-arrow', 'player-play', 'play-fill', 'triangle-right', 'caret-right-fill'] },
  { key: 'pause', names: ['pause'], stems: ['pause', 'player-pause'] },
  { key: 'eye', names: ['eye', 'show', 'view', 'visibility'], stems: ['eye', 'visibility', 'eye-open', 'show'] },
  { key: 'eye-off', names: ['hide', 'eye', 'hidden'], stems: ['eye-off', 'eye-slash', 'visibility-off', 'eye-closed', 'eye-hide', 'eye-close', 'hide'] },
  { key: 'info', names: ['info', 'information'], stems: ['info', 'info-circle', 'information', 'circle-info', 'information-circle', 'info-square'] },
  { key: 'help', names: ['help', 'question', '?'], stems: ['help', 'help-circle', 'question', 'question-circle', 'circle-help', 'question-mark', 'help-outline', 'circle-question', 'question-mark-circle', 'help-octagon', 'question-lg'] },
  { key: 'undo', names: ['undo'], stems: ['undo', 'undo-2', 'arrow-undo', 'arrow-u-up-left', 'arrow-uturn-left', 'arrow-back-up', 'reply'] },
  { key: 'redo', names: ['redo'], stems: ['redo', 'redo-2', 'arrow-redo', 'arrow-u-up-right', 'arrow-uturn-right', 'arrow-forward-up'] },
  { key: 'grid', names: ['grid', 'apps', 'tiles'], stems: ['grid', 'layout-grid', 'grid-3x3', 'grid-four', 'view-grid', 'apps', 'grid-3x3-gap', 'squares-four', 'view-module', 'grid-2x2', 'layout-grid-2'] },
  { key: 'list', names: ['list', 'bullets'], stems: ['list-ul', 'list-bullets', 'format-list-bulleted', 'list-unordered', 'list-bulleted', 'view-list', 'list-bullet', 'list-task'] },
  { key: 'cart', names: ['cart', 'basket', 'shopping'], stems: ['shopping-cart', 'cart', 'basket', 'cart-shopping', 'shopping-basket', 'cart3', 'cart-2'] },
  { key: 'attach', names: ['attach', 'attachment', 'paperclip'], stems: ['paperclip', 'attach', 'attachment', 'attach-file', 'paper-clip'] },
  { key: 'zoom-in', names: ['zoom', 'in'], stems: ['zoom-in', 'magnifying-glass-plus', 'search-plus', 'zoom-in-alt'] },
  { key: 'zoom-out', names: ['zoom', 'out'], stems: ['zoom-out', 'magnifying-glass-minus', 'search-minus'] },
  { key: 'fullscreen', names: ['fullscreen', 'full', 'screen', 'expand'], stems: ['fullscreen', 'expand', 'arrows-maximize', 'arrows-fullscreen', 'arrows-angle-expand', 'corners-out', 'screen-full'] },
  { key: 'folder', names: ['folder', 'directory'], stems: ['folder', 'folder-open', 'folder-simple', 'folder2', 'folder-closed'] },
  { key: 'folder-plus', names: ['new', 'folder', 'create'], stems: ['folder-plus', 'folder-add', 'create-new-folder', 'folder-simple-plus', 'new-folder'] },
  { key: 'file', names: ['file', 'document', 'page'], stems: ['file', 'file-text', 'document', 'description', 'file-earmark', 'file-blank', 'document-text', 'article', 'file-description'] },
  { key: 'file-plus', names: ['new', 'file', 'document', 'create'], stems: ['file-plus', 'file-add', 'note-add', 'document-add', 'file-earmark-plus', 'document-plus', 'new-file', 'file-new'] },
  { key: 'archive', names: ['archive', 'box'], stems: ['archive', 'archive-box', 'box-archive', 'inventory-2', 'archive-2'] },
  { key: 'git', names: ['source', 'control', 'branch', 'git'], stems: ['git-branch', 'source-branch', 'branch', 'git-merge', 'git-fork', 'source-merge', 'git-commit'] },
  { key: 'bold', names: ['bold'], stems: ['bold', 'format-bold', 'type-bold', 'text-b', 'text-bold'] },
  { key: 'italic', names: ['italic'], stems: ['italic', 'format-italic', 'type-italic', 'text-italic'] },
  { key: 'underline', names: ['underline'], stems: ['underline', 'format-underline', 'format-underlined', 'type-underline', 'text-underline'] },
  { key: 'strike', names: ['strikethrough', 'strike'], stems: ['strikethrough', 'format-strikethrough', 'type-strikethrough', 'text-strikethrough'] },
  { key: 'align-left', names: ['align', 'left'], stems: ['align-left', 'format-align-left', 'text-align-left', 'text-left', 'align-text-left', 'align-justify-left', 'text-align-start'] },
  { key: 'align-center', names: ['align', 'centre', 'center'], stems: ['align-center', 'format-align-center', 'text-align-center', 'text-center', 'align-text-center', 'text-align-middle'] },
  { key: 'align-right', names: ['align', 'right'], stems: ['align-right', 'format-align-right', 'text-align-right', 'text-right', 'align-text-right', 'text-align-end'] },
  { key: 'image', names: ['image', 'picture', 'photo'], stems: ['image', 'photo', 'picture', 'image-square', 'photograph', 'image-2'] },
  { key: 'link', names: ['link', 'chain'], stems: ['link', 'link-2', 'chain', 'link-simple', 'link-45deg', 'link-variant'] },
  { key: 'external', names: ['open', 'external', 'new', 'tab'], stems: ['external-link', 'box-arrow-up-right', 'open-in-new', 'arrow-square-out', 'link-external', 'arrow-top-right-on-square', 'open-new-window'] },
  { key: 'send', names: ['send'], stems: ['send', 'paper-plane', 'send-2', 'paper-airplane', 'paper-plane-right'] },
  { key: 'save', names: ['save', 'floppy', 'disk'], stems: ['save', 'floppy', 'floppy-disk', 'content-save', 'device-floppy', 'floppy2'] },
  { key: 'phone', names: ['phone', 'call'], stems: ['phone', 'telephone', 'call'] },
  { key: 'camera', names: ['camera', 'photo'], stems: ['camera', 'photo-camera'] },
  { key: 'mic', names: ['microphone', 'mic', 'record'], stems: ['mic', 'microphone'] },
  { key: 'globe', names: ['globe', 'language', 'web'], stems: ['globe', 'language', 'earth', 'world', 'globe-simple', 'public'] },
  { key: 'sun', names: ['light', 'sun', 'theme'], stems: ['sun', 'light-mode', 'brightness-high', 'sunny'] },
  { key: 'moon', names: ['dark', 'moon', 'theme'], stems: ['moon', 'dark-mode', 'moon-stars', 'night'] },
  { key: 'clock', names: ['clock', 'time', 'history'], stems: ['clock', 'time', 'schedule', 'history', 'alarm', 'watch'] },
  { key: 'pin', names: ['location', 'pin', 'map'], stems: ['map-pin', 'location', 'geo-alt', 'place', 'map-marker', 'location-on', 'marker-pin'] },
  { key: 'tag', names: ['tag', 'label'], stems: ['tag', 'label', 'tags', 'bookmark-tag', 'price-tag'] },
  { key: 'flag', names: ['flag', 'report'], stems: ['flag', 'flag-triangle-right', 'flag-2'] },
  { key: 'cloud', names: ['cloud'], stems: ['cloud', 'cloud-queue'] },
  { key: 'logout', names: ['log', 'out', 'sign', 'exit'], stems: ['log-out', 'logout', 'box-arrow-right', 'sign-out', 'exit', 'door-exit', 'arrow-right-on-rectangle', 'arrow-right-from-bracket'] },
  { key: 'sort', names: ['sort', 'order'], stems: ['sort', 'arrow-down-up', 'arrows-sort', 'arrows-up-down', 'arrow-up-down', 'sort-ascending', 'sort-descending', 'swap-vert', 'sort-alpha-down'] },
  { key: 'sliders', names: ['adjust', 'sliders', 'controls'], stems: ['sliders', 'sliders-horizontal', 'adjustments', 'tune', 'adjustments-horizontal', 'equalizer', 'options'] },
  { key: 'chat', names: ['chat', 'message', 'comment'], stems: ['message-square', 'message-circle', 'chat', 'comment', 'chat-dots', 'chat-circle', 'chat-bubble', 'message', 'chat-left', 'comments', 'chat-square'] },
  { key: 'video', names: ['video', 'camera'], stems: ['video', 'camera-video', 'videocam', 'video-camera', 'movie'] },
  { key: 'volume', names: ['volume', 'sound', 'speaker'], stems: ['volume', 'volume-2', 'volume-up', 'speaker-high', 'volume-high', 'speaker-wave', 'volume-1'] },
  { key: 'chart', names: ['chart', 'stats', 'analytics'], stems: ['bar-chart', 'bar-chart-2', 'chart-bar', 'bar-chart-line', 'chart-column', 'analytics', 'insights', 'poll', 'chart-line', 'activity', 'trending-up', 'graph-up'] },
  { key: 'thumbs-up', names: ['like', 'thumbs', 'up'], stems: ['thumbs-up', 'hand-thumbs-up', 'thumb-up', 'like'] },
  { key: 'code', names: ['code', 'source'], stems: ['code', 'code-2', 'code-slash', 'code-brackets', 'terminal', 'brackets'] },
  { key: 'check', names: ['check', 'done', 'ok', 'tick'], stems: ['check', 'check-lg', 'done', 'checkmark', 'tick'] },
  { key: 'sidebar', names: ['sidebar', 'panel', 'layout'], stems: ['sidebar', 'panel-left', 'layout-sidebar', 'side-panel', 'view-sidebar', 'layout-sidebar-left-expand'] },
];

// Icon sets drawn (npm package → style folders of SVG files). Pinned in scripts/icon_sets.sh.
export const SETS = [
  { pkg: 'lucide-static', dirs: ['icons'], stroke: true },
  { pkg: '@tabler/icons', dirs: ['icons/outline', 'icons/filled'], stroke: true },
  { pkg: 'bootstrap-icons', dirs: ['icons'] },
  { pkg: 'heroicons', dirs: ['24/outline', '24/solid', '20/solid'], stroke: true },
  { pkg: 'feather-icons', dirs: ['dist/icons'], stroke: true },
  { pkg: '@mdi/svg', dirs: ['svg'] },
  { pkg: '@primer/octicons', dirs: ['build/svg'] },
  { pkg: 'remixicon', dirs: ['icons'] },
  { pkg: '@phosphor-icons/core', dirs: ['assets/regular', 'assets/bold', 'assets/fill', 'assets/light'] },
  { pkg: '@fortawesome/fontawesome-free', dirs: ['svgs/solid', 'svgs/regular'] },
  { pkg: 'iconoir', dirs: ['icons/regular', 'icons/solid'], stroke: true },
  { pkg: '@material-design-icons/svg', dirs: ['outlined', 'filled', 'round', 'sharp'] },
  { pkg: 'boxicons', dirs: ['svg/regular', 'svg/solid'] },
  { pkg: 'eva-icons', dirs: ['outline/svg', 'fill/svg'] },
];

// A file's stem as the classes name it: `bx-search-alt.svg` → `search-alt`.
export function stem(file) {
  let s = file.toLowerCase().replace(/\.svg$/, '');
  s = s.replace(/^(bxs|bxl|bx|bi|ri)-/, '');
  for (;;) {
    const t = s.replace(/-(outline|outlined|line|fill|filled|solid|bold|regular|light|thin|duotone|16|24|12|20|32|48|sharp|round|rounded)$/, '');
    if (t === s) return s;
    s = t;
  }
}
