// Runs inside a sandboxed frame (opaque origin): loads Razorpay Checkout and passes only the
// payment result back to the shop page. It never sees the session token.
(function () {
  var parentWindow = window.parent;
  function send(message) {
    parentWindow.postMessage(message, '*');
  }
  window.addEventListener('message', function (event) {
    if (event.source !== parentWindow || !event.data || event.data.type !== 'open') return;
    var options = event.data.options;
    var script = document.createElement('script');
    script.src = 'https://checkout.razorpay.com/v1/checkout.js';
    script.onload = function () {
      options.handler = function (response) {
        send({
          type: 'paid',
          response: {
            razorpay_order_id: response.razorpay_order_id,
            razorpay_payment_id: response.razorpay_payment_id,
            razorpay_signature: response.razorpay_signature,
          },
        });
      };
      options.modal = { ondismiss: function () { send({ type: 'dismissed' }); } };
      var checkout = new window.Razorpay(options);
      checkout.on('payment.failed', function (response) {
        send({ type: 'failed', reason: response && response.error && response.error.description });
      });
      checkout.open();
    };
    script.onerror = function () {
      send({ type: 'failed', reason: 'Razorpay Checkout could not be loaded.' });
    };
    document.head.appendChild(script);
  });
  send({ type: 'ready' });
})();
